//! The ferrovs configuration: TOML schema, validation and the keepalived/ipvsadm importers.
#![forbid(unsafe_code)]
