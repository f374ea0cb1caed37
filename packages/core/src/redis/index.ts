// Redis stores for the coordination middleware (issue 3). Filled in by that work.
export {};
