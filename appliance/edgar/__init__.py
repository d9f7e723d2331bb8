"""SEC EDGAR: symbol map, filing parsing, section splitting, offline import and polite fetch."""
