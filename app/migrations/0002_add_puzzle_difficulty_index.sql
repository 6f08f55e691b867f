-- Puzzles are picked by difficulty.
CREATE INDEX puzzle_difficulty ON puzzle (difficulty);
