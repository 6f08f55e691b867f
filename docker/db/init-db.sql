-- Runs once, on the first start with an empty data volume, after the image's entrypoint
-- has created the `sudoku` database and the `sudoku_user` account from the environment.
-- No passwords here: they come from the secret files.

-- The app's test suite uses its own database (Doctrine appends `_test` in the test env).
CREATE DATABASE IF NOT EXISTS `sudoku_test`
    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- The entrypoint creates the user for any host ('%').
GRANT ALL PRIVILEGES ON `sudoku_test`.* TO 'sudoku_user'@'%';
