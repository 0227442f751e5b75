"""The hostile-input harness: every entry point on crafted input, in a limited child process."""
