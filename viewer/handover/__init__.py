"""What leaves the workstation: documents (JSON/CSV/SARIF, masking), the report, bundles (export, verify,
extract) and redacted copies of dumps. Never imports Qt."""
