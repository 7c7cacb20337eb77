//! Pure protocol pieces of the checkers (filled in by the next commit).
