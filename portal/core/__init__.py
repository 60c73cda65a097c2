"""Cross-domain building blocks: model mixins, audit log, errors, view helpers."""
