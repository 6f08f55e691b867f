<?php

// Status of the stand-in app, as JSON.
//
// /status.php answers 200 once PHP serves: the container health checks and the load
// balancer's target checks ask only that. It does not touch MySQL or Redis: an outage of a
// shared service must not get every app container killed and replaced, which would only add
// an app outage to it, and a check every few seconds would keep an idle Aurora Serverless
// cluster from ever pausing.
//
// /status.php?deps=1 also reports whether MySQL and Redis let the app in, still with 200
// ("degraded" in the body when not). With ?strict=1 it answers 503 when degraded, for a
// person or a smoke test (cmd/smoke) that wants the whole chain to work.
//
// From the command line (`php public/status.php`), it always checks MySQL and Redis, prints
// the same JSON and exits 1 when degraded: the end-to-end test runs it as a one-off task
// inside the VPC on AWS, where the load balancer does not route /status.php at all.
//
// The body says only whether each dependency is up and, if not, a short reason
// (access-denied, not-migrated, unreachable, timeout, ...): no versions, extension lists or exception
// text, which would help an attacker more than a user. The full error goes to the log
// (stderr: the container's log), and never carries a password or a whole URL: see redact().

declare(strict_types=1);

// Nothing but the JSON may reach the body, whatever php.ini says.
ini_set('display_errors', '0');
// Warnings (e.g. from a failed connection) become exceptions, reported in the body.
set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

const TIMEOUT_SECONDS = 2;

/** The value of an environment variable, or null when it is unset or empty. */
function env(string $name): ?string
{
    $value = getenv($name);

    return $value === false || $value === '' ? null : $value;
}

/**
 * Replaces each secret in $message by "***", then keeps it short.
 *
 * @param list<string> $secrets
 */
function redact(string $message, array $secrets): string
{
    foreach ($secrets as $secret) {
        if ($secret !== '') {
            $message = str_replace($secret, '***', $message);
        }
    }

    return strlen($message) > 300 ? substr($message, 0, 300) . '…' : $message;
}

/**
 * Runs $check, a check of the dependency $name that fails by throwing; logs the failure.
 *
 * @param callable(): void $check
 * @param list<string> $secrets strings that must not appear in the log
 * @return array{ok: bool, reason?: string}
 */
function check(string $name, callable $check, array $secrets): array
{
    try {
        $check();
    } catch (Throwable $e) {
        $message = $e::class . ': ' . redact($e->getMessage(), $secrets);
        error_log("status.php: $name: $message");

        return ['ok' => false, 'reason' => reason($message)];
    }

    return ['ok' => true];
}

/**
 * A short, stable reason for a failed check, from its (redacted) error: what a person or a
 * smoke test needs to know, without the server's own words.
 */
function reason(string $message): string
{
    $reasons = [
        'access-denied' => ['[1045]', 'WRONGPASS', 'NOAUTH', 'AUTH failed', 'invalid password'],
        'unknown-database' => ['[1049]'],
        // SQLSTATE 42S02 (error 1146): the version table does not exist yet.
        'not-migrated' => ['[42S02]', 'is not migrated'],
        'tls' => ['SSL', 'TLS', 'certificate'],
        'timeout' => ['timed out', 'timeout', '[2006]'],
        'unreachable' => ['[2002]', 'Connection refused', 'getaddrinfo', 'No route to host', 'Name or service not known'],
        'not-configured' => ['is not set', 'is not a valid URL', 'must start with'],
    ];
    foreach ($reasons as $reason => $needles) {
        foreach ($needles as $needle) {
            if (stripos($message, $needle) !== false) {
                return $reason;
            }
        }
    }

    return 'error';
}

/** @return array{ok: bool, reason: string} */
function notSet(string $name): array
{
    error_log("status.php: $name is not set");

    return ['ok' => false, 'reason' => 'not-configured'];
}

/**
 * The parts of a service URL; user and pass are decoded.
 *
 * @param list<string> $schemes
 * @return array{scheme: string, host: string, port: ?int, user: ?string, pass: ?string, path: string}
 */
function parseServiceUrl(string $name, string $url, array $schemes): array
{
    $parts = parse_url($url);
    if ($parts === false || !isset($parts['scheme'], $parts['host'])) {
        // Not even the URL in the message: it holds the password.
        throw new InvalidArgumentException("$name is not a valid URL");
    }
    if (!in_array($parts['scheme'], $schemes, true)) {
        throw new InvalidArgumentException("$name must start with " . implode(':// or ', $schemes) . '://');
    }

    return [
        'scheme' => $parts['scheme'],
        'host' => $parts['host'],
        'port' => $parts['port'] ?? null,
        'user' => isset($parts['user']) ? rawurldecode($parts['user']) : null,
        'pass' => isset($parts['pass']) ? rawurldecode($parts['pass']) : null,
        'path' => $parts['path'] ?? '',
    ];
}

/** @return list<string> the forms in which a URL's password could show up in a message */
function secretsOf(string $url): array
{
    $pass = parse_url($url, PHP_URL_PASS);
    if (!is_string($pass) || $pass === '') {
        return [$url];
    }

    return [$url, $pass, rawurldecode($pass)];
}

/** DATABASE_URL: mysql://user:pass@host:port/dbname?serverVersion=...; runs SELECT 1. */
function checkDatabase(string $url): void
{
    $db = parseServiceUrl('DATABASE_URL', $url, ['mysql']);
    $dsn = sprintf('mysql:host=%s;port=%d;charset=utf8mb4', $db['host'], $db['port'] ?? 3306);
    $name = rawurldecode(ltrim($db['path'], '/'));
    if ($name !== '') {
        $dsn .= ";dbname=$name";
    }
    $options = [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_TIMEOUT => TIMEOUT_SECONDS,
    ];
    // On AWS, Aurora requires TLS: verify its certificate against the given CA bundle.
    $ca = env('DATABASE_SSL_CA');
    if ($ca !== null) {
        if (!is_readable($ca)) {
            throw new RuntimeException("DATABASE_SSL_CA ($ca) is not a readable file");
        }
        $options[PDO::MYSQL_ATTR_SSL_CA] = $ca;
        $options[PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT] = true;
    }

    $pdo = new PDO($dsn, $db['user'] ?? '', $db['pass'] ?? '', $options);
    if ((int) $pdo->query('SELECT 1')->fetchColumn() !== 1) {
        throw new UnexpectedValueException('SELECT 1 did not return 1');
    }
    // The schema this code expects: its newest migration, applied by the release step
    // (bin/release). Without it, the app's queries would fail.
    $migrations = glob(dirname(__DIR__) . '/migrations/*.sql') ?: [];
    if ($migrations !== []) {
        sort($migrations, SORT_STRING);
        $newest = basename(end($migrations), '.sql');
        $applied = $pdo->prepare('SELECT COUNT(*) FROM migration_versions WHERE version = ?');
        $applied->execute([$newest]);
        if ((int) $applied->fetchColumn() !== 1) {
            throw new UnexpectedValueException("the schema is not migrated: $newest is not applied");
        }
    }
}

/** REDIS_URL: redis://[user:]pass@host:port, or rediss:// for TLS; runs PING. */
function checkRedis(string $url): void
{
    $redis = parseServiceUrl('REDIS_URL', $url, ['redis', 'rediss']);
    $tls = $redis['scheme'] === 'rediss';
    // redis://secret@host is the password alone; redis://user:secret@host an ACL user.
    [$user, $pass] = $redis['pass'] !== null ? [$redis['user'] ?? '', $redis['pass']] : ['', $redis['user'] ?? ''];

    $r = new Redis();
    $r->connect(
        ($tls ? 'tls://' : '') . $redis['host'],
        $redis['port'] ?? 6379,
        TIMEOUT_SECONDS,
        null,
        0,
        TIMEOUT_SECONDS,
        $tls ? ['stream' => ['verify_peer' => true, 'verify_peer_name' => true]] : [],
    );
    try {
        // "default" is the user a plain password (requirepass, an ElastiCache AUTH token)
        // belongs to; like Symfony, send the password alone then.
        $authenticated = match (true) {
            $user !== '' && $user !== 'default' => $r->auth([$user, $pass]),
            $pass !== '' => $r->auth($pass),
            default => true,
        };
        if (!$authenticated) {
            throw new RuntimeException('AUTH failed: ' . ($r->getLastError() ?? 'no reason given'));
        }
        $pong = $r->ping();
        if ($pong !== true && $pong !== '+PONG' && $pong !== 'PONG') {
            throw new UnexpectedValueException('PING did not answer PONG');
        }
    } finally {
        $r->close();
    }
}

$cli = PHP_SAPI === 'cli';
$strict = $cli || ($_GET['strict'] ?? null) === '1';
if (!$strict && ($_GET['deps'] ?? null) !== '1') {
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
    echo json_encode(['status' => 'alive'], JSON_THROW_ON_ERROR), "\n";
    exit;
}

$databaseUrl = env('DATABASE_URL');
$redisUrl = env('REDIS_URL');

$database = $databaseUrl === null
    ? notSet('DATABASE_URL')
    : check('database', static fn () => checkDatabase($databaseUrl), secretsOf($databaseUrl));
$redis = $redisUrl === null
    ? notSet('REDIS_URL')
    : check('redis', static fn () => checkRedis($redisUrl), secretsOf($redisUrl));

$status = $database['ok'] && $redis['ok'] ? 'ok' : 'degraded';

$body = [
    'status' => $status,
    'database' => $database,
    'redis' => $redis,
];

if (!$cli) {
    http_response_code($strict && $status !== 'ok' ? 503 : 200);
    header('Content-Type: application/json');
    header('Cache-Control: no-store');
}
echo json_encode(
    $body,
    JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR,
), "\n";
if ($cli) {
    exit($status === 'ok' ? 0 : 1);
}
