//! The names a manifest (and a policy) uses: actions, mounts, secrets,
//! publishers, and network origins. Each check says what to write instead.

/// `[a-z0-9-]+`, 1 to 64 characters, not starting or ending with `-`.
pub fn check_action_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an action name: use 1 to 64 of a-z, 0-9 and -, like \"slack-notify\"",
            name.escape_debug()
        ))
    }
}

/// Mount names become the guest path `/<mount>`: `[a-z0-9_-]+`.
pub fn check_mount_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a mount name: use 1 to 64 of a-z, 0-9, - and _, like \"workspace\"",
            name.escape_debug()
        ))
    }
}

/// Secret names are like environment variables: `[A-Z0-9_]+`.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a secret name: use A-Z, 0-9 and _, like \"SLACK_WEBHOOK\"",
            name.escape_debug()
        ))
    }
}

/// A publisher's name: printable, no spaces, 1 to 64 bytes.
pub fn check_publisher(publisher: &str) -> Result<(), String> {
    if publisher.is_empty()
        || publisher.len() > 64
        || publisher
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        Err(format!(
            "`{}` must be 1 to 64 printable characters without spaces",
            publisher.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// A network origin, `scheme://host[:port]` (see [`crate::net::origin`]
/// for the grammar).
pub fn check_origin(origin: &str) -> Result<crate::net::Origin, String> {
    crate::net::Origin::parse(origin)
}
