//! The checks of a request that are not its origin: placeholders against
//! their secrets' grants (steps 1 and 3 of [`super`]), exposed values in
//! host names (step 2) and in requests (step 8), blocked addresses (step
//! 6), and filling placeholders in (step 7).

use super::record::Report;
use super::transfer::Outgoing;
use super::{RunNet, RunSecret, Stop};
use airlock_rules::net::addr::{self, Class, IpBlock};
use airlock_rules::net::sensitive::Sensitive;
use airlock_rules::net::{Destination, Host};
use std::net::{IpAddr, SocketAddr};
use wasmtime_wasi_http::Error as HttpError;

/// Why `ip` is never reached, whatever grants it: it is unspecified, or of
/// a kind the policy's `forbid` names.
fn never_reached(ip: IpAddr, forbid: &[Sensitive]) -> Option<String> {
    if addr::classify(ip) == Some(Class::Unspecified) {
        return Some(
            "an unspecified address, which reaches this host itself: airlock never connects to one"
                .into(),
        );
    }
    forbid.iter().find(|k| k.holds(ip)).map(|kind| {
        format!(
            "a {kind} address, which the policy forbids (forbid = [\"{kind}\"] under [network]); no grant reaches it"
        )
    })
}

impl RunNet {
    /// Step 6: a blocked address refuses the request unless granted.
    /// An unspecified address is never reached, whatever grants it (a
    /// resolver may answer `0.0.0.0` for a name it blocks); an address of
    /// a kind the policy forbids is not reached even when granted.
    pub(super) fn check_address(&self, dest: &Destination, addr: SocketAddr) -> Result<(), Stop> {
        let ip = addr.ip();
        let what = match &dest.host {
            Host::Ip(_) => format!("{ip} is"),
            Host::Name(name) => format!("{name} resolves to {ip},"),
        };
        if let Some(why) = never_reached(ip, &self.config.forbid) {
            return Err(Stop::deny(
                format!("{what} {why}"),
                HttpError::DestinationIpProhibited,
            ));
        }
        let class = addr::classify(ip);
        let Some(class) = class else {
            return Ok(());
        };
        let granted = self
            .grant
            .origins
            .iter()
            .any(|o| o.covers_address(dest.scheme, ip, addr.port()));
        if granted || self.config.allow_private.iter().any(|b| b.contains(ip)) {
            return Ok(());
        }
        let literal = Destination {
            scheme: dest.scheme,
            host: Host::Ip(ip.to_canonical()),
            port: addr.port(),
        };
        Err(Stop::deny(
            format!(
                "{what} {}, which actions reach only when it is granted by address: \
                 the manifest would need network = [\"{}\"], or the policy allow_private = [\"{}\"] under [network]",
                class.phrase(),
                literal.as_grant(),
                IpBlock::single(ip)
            ),
            HttpError::DestinationIpProhibited,
        ))
    }

    /// Steps 1 and 3: every placeholder the request carries (so far)
    /// names a declared secret whose audience includes `dest` and which has
    /// a value. Judged before any limit, so that a refusal says what the
    /// grant lacks.
    pub(super) fn judge_secrets(&self, dest: &Destination, out: &Outgoing) -> Result<(), Stop> {
        let deny = |reason: String| Stop::deny(reason, HttpError::HttpRequestDenied);
        for name in &out.placeholders().map_err(deny)? {
            let Some(secret) = self.secrets.get(name) else {
                return Err(deny(format!(
                    "{{{{secret:{name}}}}} names a secret the manifest does not declare: it would need \
                     {{ name = \"{name}\", send_to = [\"{}\"] }} in [capabilities] secrets",
                    dest.as_grant()
                )));
            };
            if !secret.send_to.iter().any(|o| o.matches(dest)) {
                let audience: Vec<String> =
                    secret.send_to.iter().map(ToString::to_string).collect();
                return Err(deny(format!(
                    "secret `{name}` may be sent only to [{}] (its send_to), not to {}: the manifest would need \
                     send_to = [\"{}\"] for it; the request was not sent",
                    audience.join(", "),
                    dest.as_grant(),
                    dest.as_grant()
                )));
            }
            if let Some(why) = &secret.missing {
                return Err(deny(why.clone()));
            }
        }
        Ok(())
    }

    /// Step 7: fill the placeholders, each judged by
    /// [`RunNet::judge_secrets`] already.
    pub(super) fn fill(&self, out: &mut Outgoing) -> Result<(), Stop> {
        out.substitute(&|name| {
            self.secrets
                .get(name)
                .and_then(|s| s.value.as_ref())
                .map_or(&[][..], |v| v.expose().as_bytes())
        })
        .map_err(|reason| Stop::deny(reason, HttpError::HttpRequestDenied))
    }

    /// Step 2, before DNS: a host name that carries a secret's value would
    /// leak it to DNS servers even if the request were then refused.
    pub(super) fn scan_host(&self, dest: &Destination) -> Result<(), Stop> {
        let Host::Name(host) = &dest.host else {
            return Ok(());
        };
        for (name, secret) in self.outside_audience(dest) {
            if let Some(form) = secret
                .forms
                .as_ref()
                .and_then(|f| f.find_in(host.as_bytes()))
            {
                return Err(Stop::deny(
                    format!(
                        "the host name carries the value of secret `{name}` ({form}); it was not looked up (a best-effort check)"
                    ),
                    HttpError::HttpRequestDenied,
                ));
            }
        }
        Ok(())
    }

    /// Secrets with a value to look for (exposed or not: an unexposed value
    /// can still reach an action through a file or a mount) whose audience
    /// does not include `dest`.
    fn outside_audience<'a>(
        &'a self,
        dest: &'a Destination,
    ) -> impl Iterator<Item = (&'a String, &'a RunSecret)> {
        self.secrets
            .iter()
            .filter(move |(_, s)| s.forms.is_some() && !s.send_to.iter().any(|o| o.matches(dest)))
    }

    /// Step 8: look for secrets' values going outside their audience.
    pub(super) fn scan(
        &self,
        dest: &Destination,
        out: &Outgoing,
        report: &mut Report,
    ) -> Result<(), Stop> {
        report.scanned = self
            .outside_audience(dest)
            .map(|(name, _)| name.clone())
            .collect();
        for (name, secret) in self.outside_audience(dest) {
            let Some(forms) = secret.forms.as_ref() else {
                continue;
            };
            if let Some((form, place)) = out.find(forms) {
                return Err(Stop::deny(
                    format!(
                        "the request carries the value of secret `{name}` ({form}, in {place}) to {}, \
                         which is not in its send_to (a best-effort check): the manifest would need send_to = [\"{}\"] for it",
                        dest.as_grant(),
                        dest.as_grant()
                    ),
                    HttpError::HttpRequestDenied,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_and_forbidden_addresses_are_never_reached() {
        use Sensitive::*;
        let all = [Metadata, Loopback, LinkLocal, Wide];
        let cases: &[(&str, &[Sensitive], Option<&str>)] = &[
            // Whatever the policy says, in every form that reaches one.
            ("0.0.0.0", &[], Some("unspecified")),
            ("0.1.2.3", &[], Some("unspecified")),
            ("::", &[], Some("unspecified")),
            ("::ffff:0.0.0.0", &[], Some("unspecified")),
            ("64:ff9b::", &[], Some("unspecified")),
            ("2002::1", &[], Some("unspecified")),
            // Forbidden kinds, with their IPv6 forms.
            ("169.254.169.254", &[Metadata], Some("a metadata address")),
            (
                "::ffff:169.254.169.254",
                &[Metadata],
                Some("a metadata address"),
            ),
            (
                "64:ff9b::a9fe:a9fe",
                &[Metadata],
                Some("a metadata address"),
            ),
            ("fd00:ec2::254", &[Metadata], Some("a metadata address")),
            ("100.100.100.200", &[Metadata], Some("a metadata address")),
            ("169.254.1.1", &[Metadata], None),
            ("169.254.1.1", &[LinkLocal], Some("a link-local address")),
            ("fe80::1", &[LinkLocal], Some("a link-local address")),
            ("127.0.0.1", &[Loopback], Some("forbid = [\"loopback\"]")),
            ("::1", &[Loopback], Some("a loopback address")),
            ("::ffff:127.0.0.1", &[Loopback], Some("a loopback address")),
            ("127.0.0.1", &[Metadata, LinkLocal, Wide], None),
            ("10.0.0.1", &all, None),
            ("8.8.8.8", &all, None),
        ];
        for (ip, forbid, want) in cases {
            let got = never_reached(ip.parse().unwrap(), forbid);
            match (want, &got) {
                (None, None) => {}
                (Some(want), Some(got)) if got.contains(want) => {}
                _ => panic!("{ip} {forbid:?}: {got:?}"),
            }
        }
    }
}
