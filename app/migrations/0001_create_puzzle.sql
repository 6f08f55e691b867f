-- The puzzles the app serves: a grid of 81 cells, 0 for an empty one.
CREATE TABLE puzzle (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    grid CHAR(81) NOT NULL,
    difficulty TINYINT UNSIGNED NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
