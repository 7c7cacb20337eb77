//! tokio runners of the checkers (filled in by the next commit).
