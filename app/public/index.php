<?php

// Landing page of the stand-in app, which takes the place of the real Symfony app until
// appPath points at it. It shows only what a browser may see anyway.

declare(strict_types=1);

$mercurePublicUrl = getenv('MERCURE_PUBLIC_URL') ?: '';
$e = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');

header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>sudoku — stand-in app</title>
    <style>
        body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }
        code { background: #f2f2f2; padding: 0 .25rem; }
    </style>
</head>
<body>
    <h1>sudoku — stand-in app</h1>
    <p>
        This small PHP app stands in for the real Symfony app, so that the stack
        (Nginx, PHP-FPM, MySQL, Redis and the Mercure hub) runs out of the box.
        Point the stack's <code>appPath</code> setting at the real app to replace it.
    </p>
    <p>
        <a href="/status.php?deps=1">/status.php?deps=1</a> reports, as JSON, whether the app
        reaches its database and Redis.
    </p>
    <?php if ($mercurePublicUrl !== ''): ?>
        <p>
            Mercure hub (public URL): <code><?= $e($mercurePublicUrl) ?></code><br>
            Subscription from this page: <strong id="mercure-state">connecting…</strong>
        </p>
        <script>
            // Subscribes anonymously to a public topic, to show that the hub is reachable.
            const hub = new URL(<?= json_encode($mercurePublicUrl, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_SLASHES) ?>, window.location.href);
            hub.searchParams.append('topic', 'urn:sudoku:stand-in');
            const state = document.getElementById('mercure-state');
            const source = new EventSource(hub);
            source.onopen = () => { state.textContent = 'connected'; };
            source.onerror = () => { state.textContent = 'not connected (retrying)'; };
        </script>
    <?php else: ?>
        <p>Mercure hub: <code>MERCURE_PUBLIC_URL</code> is not set.</p>
    <?php endif ?>
</body>
</html>
