<?php
// The release step's two database tasks; app-release runs them.
//
// `release.php users` (on AWS, first): creates or updates the app's two database users as
// the database's administrator (Aurora's master user, whose password RDS keeps in Secrets
// Manager), each with exactly its rights on the app's database and the password its URL
// holds:
//   - the app user (DATABASE_URL): SELECT, INSERT, UPDATE, DELETE;
//   - the migrator (MIGRATOR_DATABASE_URL): those, and the DDL that migrations need.
// It changes nothing when all is as it should be. A changed password is set with RETAIN
// CURRENT PASSWORD (MySQL 8.0.14 and later: dual passwords), so that tasks of the revision
// being replaced, which hold the old one, keep connecting while the new revision starts.
// Environment: DATABASE_ADMIN_USER and DATABASE_ADMIN_PASSWORD besides the two URLs.
//
// `release.php run`: runs RELEASE_COMMAND (with sh -c) while holding a MySQL advisory lock
// on the database of DATABASE_URL, so that release steps that start together (the tasks of
// a new revision, or a scale-out during a deployment) run their commands one after the
// other: none runs a migration while another does. Doctrine Migrations takes no such lock
// of its own. Exits with the command's status.
//
// Both verify the server's certificate against DATABASE_SSL_CA when it is set (Aurora
// requires TLS).

declare(strict_types=1);

const APP_RIGHTS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
const MIGRATOR_RIGHTS = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'ALTER', 'DROP', 'INDEX',
    'REFERENCES', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'LOCK TABLES'];
const LOCK = 'sudoku_release';
const LOCK_TIMEOUT_SECONDS = 600;

function fail(string $message): never
{
    fwrite(STDERR, "release: $message\n");
    exit(1);
}

/** @return array{user: string, pass: string, host: string, port: int, db: string} */
function account(string $name): array
{
    $url = getenv($name);
    $p = is_string($url) ? parse_url($url) : false;
    if ($p === false || ($p['scheme'] ?? '') !== 'mysql' || !isset($p['user'], $p['pass'], $p['host'], $p['path'])) {
        fail("$name is not set, or not a mysql://user:password@host/database URL");
    }

    return ['user' => rawurldecode($p['user']), 'pass' => rawurldecode($p['pass']), 'host' => $p['host'],
        'port' => $p['port'] ?? 3306, 'db' => rawurldecode(ltrim($p['path'], '/'))];
}

/**
 * The client errors that say the server is not there yet, rather than that it refuses: no
 * answer, or no name yet (2002, mysqlnd's for refused, timed out and unresolved alike; 2003;
 * 2005), a connection it dropped (2006, 2013), or no room for one more (1040).
 */
const NOT_YET = ['[2002]', '[2003]', '[2005]', '[2006]', '[2013]', '[1040]'];

/**
 * A connection to the server of $at as user; null when the server refuses the password.
 *
 * A server that is not there yet is asked again, with a growing pause, for
 * RELEASE_CONNECT_SECONDS (120) in all: on a first deploy the cluster's endpoint may have just
 * come up, and a paused Aurora Serverless v2 cluster takes about 15 s to resume, longer after
 * a day paused (Aurora user guide, "Scaling to zero ACUs with automatic pause and resume").
 */
function connect(array $at, string $user, string $pass): ?PDO
{
    $options = [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 10];
    $ca = getenv('DATABASE_SSL_CA');
    if (is_string($ca) && $ca !== '') {
        $options[PDO::MYSQL_ATTR_SSL_CA] = $ca;
        $options[PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT] = true;
    }
    $budget = getenv('RELEASE_CONNECT_SECONDS');
    $budget = $budget === false || $budget === '' ? 120 : (int) $budget;
    $start = time();
    $pause = 1;
    for ($attempt = 1; ; $attempt++) {
        try {
            return new PDO(sprintf('mysql:host=%s;port=%d;charset=utf8mb4', $at['host'], $at['port']), $user, $pass, $options);
        } catch (PDOException $e) {
            $error = $e->getMessage();
        }
        if (str_contains($error, '[1045]')) {
            return null;
        }
        $waited = time() - $start;
        $notYet = array_filter(NOT_YET, fn (string $code): bool => str_contains($error, $code)) !== [];
        if (!$notYet || $waited + $pause > $budget) {
            fail(sprintf('cannot connect to %s:%d as %s (%d attempts in %d s): %s', $at['host'], $at['port'], $user, $attempt, $waited, $error));
        }
        fwrite(STDERR, sprintf("release: waiting for the database at %s:%d (%s); trying again in %d s, for up to %d s in all\n",
            $at['host'], $at['port'], $error, $pause, $budget));
        sleep($pause);
        $pause = min($pause * 2, 15);
    }
}

function users(): void
{
    $users = [[account('DATABASE_URL'), APP_RIGHTS], [account('MIGRATOR_DATABASE_URL'), MIGRATOR_RIGHTS]];
    $at = $users[0][0];
    if ($users[1][0]['host'] !== $at['host'] || $users[1][0]['db'] !== $at['db'] || $users[1][0]['user'] === $at['user']) {
        fail('DATABASE_URL and MIGRATOR_DATABASE_URL must name two users of one database');
    }
    $adminUser = getenv('DATABASE_ADMIN_USER') ?: fail('DATABASE_ADMIN_USER is not set');
    $admin = connect($at, $adminUser, getenv('DATABASE_ADMIN_PASSWORD') ?: '') ?? fail("the server refuses $adminUser's password");
    $mysql = !str_contains((string) $admin->query('SELECT VERSION()')->fetchColumn(), 'MariaDB');
    $db = '`' . str_replace('`', '``', $at['db']) . '`';

    foreach ($users as [$u, $rights]) {
        $who = $admin->quote($u['user']) . "@'%'";
        $admin->exec("CREATE USER IF NOT EXISTS $who IDENTIFIED BY " . $admin->quote($u['pass']));
        if (connect($at, $u['user'], $u['pass']) === null) {
            // MariaDB has no dual passwords (the tests run on it); Aurora MySQL 3 has.
            $admin->exec("ALTER USER $who IDENTIFIED BY " . $admin->quote($u['pass']) . ($mysql ? ' RETAIN CURRENT PASSWORD' : ''));
            echo "release: {$u['user']}: new password set\n";
        }
        $admin->exec('GRANT ' . implode(', ', $rights) . " ON $db.* TO $who");
        // Exactly these rights: revoke what else the user has on the database; refuse
        // rights anywhere else, which someone gave by hand and must take back.
        foreach ($admin->query("SHOW GRANTS FOR $who")->fetchAll(PDO::FETCH_COLUMN) as $grant) {
            if (!preg_match('/^GRANT (.+) ON (\S+) TO /', $grant, $m) || $m[1] === 'USAGE' && $m[2] === '*.*') {
                continue;
            }
            if ($m[2] !== "$db.*") {
                fail("{$u['user']} has rights beyond its database: $grant; revoke them");
            }
            $extra = array_diff(array_map('trim', explode(',', $m[1])), $rights);
            if ($extra !== []) {
                $admin->exec('REVOKE ' . implode(', ', $extra) . " ON $db.* FROM $who");
                if (in_array('ALL PRIVILEGES', $extra, true)) {
                    $admin->exec('GRANT ' . implode(', ', $rights) . " ON $db.* TO $who");
                }
                echo "release: {$u['user']}: revoked " . implode(', ', $extra) . "\n";
            }
            if (str_contains($grant, 'WITH GRANT OPTION')) {
                $admin->exec("REVOKE GRANT OPTION ON $db.* FROM $who");
            }
        }
        echo "release: {$u['user']} has " . implode(', ', $rights) . " on {$at['db']}\n";
    }
}

function run(): never
{
    $at = account('DATABASE_URL');
    $pdo = connect($at, $at['user'], $at['pass']) ?? fail("the server refuses {$at['user']}'s password");
    if ((int) $pdo->query(sprintf("SELECT GET_LOCK('%s', %d)", LOCK, LOCK_TIMEOUT_SECONDS))->fetchColumn() !== 1) {
        fail(sprintf('another release has held the lock for %d s', LOCK_TIMEOUT_SECONDS));
    }
    passthru('sh -c ' . escapeshellarg((string) getenv('RELEASE_COMMAND')), $status);
    exit($status); // the connection closes, and the lock goes with it
}

match ($argv[1] ?? '') {
    'users' => users(),
    'run' => run(),
    default => fail('usage: release.php users|run'),
};
