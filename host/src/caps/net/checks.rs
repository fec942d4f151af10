//! The checks of a request: its origin and its placeholders against the
//! grant (steps 1 and 3 of [`super`]), exposed values in host names (step
//! 2) and in requests (step 8), blocked addresses (step 6), and filling
//! placeholders in (step 7).
//!
//! The decisions are pure functions of the grant, the policy's settings
//! and the request ([`origin_verdict`], [`audience_verdict`],
//! [`address_verdict`]), tested by tables below; [`RunNet`]'s methods give
//! them the run's state and turn a refusal into a [`Stop`].

use super::record::Report;
use super::transfer::Outgoing;
use super::{RunNet, RunSecret, Stop};
use airlock_rules::net::addr::{self, Class, IpBlock};
use airlock_rules::net::sensitive::Sensitive;
use airlock_rules::net::{Destination, Host, Origin};
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

/// Step 1: whether one of the granted `origins` holds `dest`, or the
/// refusal that says what the manifest would need.
fn origin_verdict(origins: &[Origin], dest: &Destination) -> Result<(), String> {
    if origins.iter().any(|o| o.matches(dest)) {
        return Ok(());
    }
    Err(format!(
        "{} is not a declared origin: the manifest would need network = [\"{}\"] in [capabilities]",
        dest.as_grant(),
        dest.as_grant()
    ))
}

/// Steps 1 and 3, for one placeholder: `name` is a declared secret
/// (`secret`), `dest` is in its audience, and it has a value.
fn audience_verdict(
    name: &str,
    secret: Option<&RunSecret>,
    dest: &Destination,
) -> Result<(), String> {
    let Some(secret) = secret else {
        return Err(format!(
            "{{{{secret:{name}}}}} names a secret the manifest does not declare: it would need \
             {{ name = \"{name}\", send_to = [\"{}\"] }} in [capabilities] secrets",
            dest.as_grant()
        ));
    };
    if !secret.send_to.iter().any(|o| o.matches(dest)) {
        let audience: Vec<String> = secret.send_to.iter().map(ToString::to_string).collect();
        return Err(format!(
            "secret `{name}` may be sent only to [{}] (its send_to), not to {}: the manifest would need \
             send_to = [\"{}\"] for it; the request was not sent",
            audience.join(", "),
            dest.as_grant(),
            dest.as_grant()
        ));
    }
    match &secret.missing {
        Some(why) => Err(why.clone()),
        None => Ok(()),
    }
}

/// Step 6, for one resolved address: an unspecified address, or one of a
/// kind the policy `forbid`s, is never reached; one in a blocked class is
/// reached only if one of `origins` grants it by address or the policy's
/// `allow_private` holds it.
fn address_verdict(
    dest: &Destination,
    addr: SocketAddr,
    origins: &[Origin],
    allow_private: &[IpBlock],
    forbid: &[Sensitive],
) -> Result<(), String> {
    let ip = addr.ip();
    let what = match &dest.host {
        Host::Ip(_) => format!("{ip} is"),
        Host::Name(name) => format!("{name} resolves to {ip},"),
    };
    if let Some(why) = never_reached(ip, forbid) {
        return Err(format!("{what} {why}"));
    }
    let Some(class) = addr::classify(ip) else {
        return Ok(());
    };
    let granted = origins
        .iter()
        .any(|o| o.covers_address(dest.scheme, ip, addr.port()));
    if granted || allow_private.iter().any(|b| b.contains(ip)) {
        return Ok(());
    }
    let literal = Destination {
        scheme: dest.scheme,
        host: Host::Ip(ip.to_canonical()),
        port: addr.port(),
    };
    Err(format!(
        "{what} {}, which actions reach only when it is granted by address: \
         the manifest would need network = [\"{}\"], or the policy allow_private = [\"{}\"] under [network]",
        class.phrase(),
        literal.as_grant(),
        IpBlock::single(ip)
    ))
}

impl RunNet {
    /// Step 1: `dest` is an origin the grant holds.
    pub(super) fn judge_origin(&self, dest: &Destination) -> Result<(), Stop> {
        origin_verdict(&self.grant.origins, dest)
            .map_err(|why| Stop::deny(why, HttpError::HttpRequestDenied))
    }

    /// Step 6: a blocked address refuses the request unless granted.
    /// An unspecified address is never reached, whatever grants it (a
    /// resolver may answer `0.0.0.0` for a name it blocks); an address of
    /// a kind the policy forbids is not reached even when granted.
    pub(super) fn check_address(&self, dest: &Destination, addr: SocketAddr) -> Result<(), Stop> {
        address_verdict(
            dest,
            addr,
            &self.grant.origins,
            &self.config.allow_private,
            &self.config.forbid,
        )
        .map_err(|why| Stop::deny(why, HttpError::DestinationIpProhibited))
    }

    /// Steps 1 and 3: every placeholder the request carries (so far)
    /// names a declared secret whose audience includes `dest` and which has
    /// a value. Judged before any limit, so that a refusal says what the
    /// grant lacks.
    pub(super) fn judge_secrets(&self, dest: &Destination, out: &Outgoing) -> Result<(), Stop> {
        let deny = |reason: String| Stop::deny(reason, HttpError::HttpRequestDenied);
        for name in &out.placeholders().map_err(deny)? {
            audience_verdict(name, self.secrets.get(name), dest).map_err(deny)?;
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

    fn dest(url: &str) -> Destination {
        let (scheme, authority) = url.split_once("://").unwrap();
        Destination::parse(scheme, authority).unwrap()
    }

    fn origins(list: &[&str]) -> Vec<Origin> {
        list.iter().map(|o| Origin::parse(o).unwrap()).collect()
    }

    /// `Ok` as `None`; a refusal as the piece of it expected.
    fn check(got: Result<(), String>, want: Option<&str>, case: &str) {
        match (want, &got) {
            (None, Ok(())) => {}
            (Some(want), Err(why)) if why.contains(want) => {}
            _ => panic!("{case}: {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn a_destination_is_granted_only_by_an_origin_that_holds_it() {
        let granted = origins(&[
            "https://api.example.com",
            "https://*.hooks.test",
            "http://10.0.0.0/8:8080",
        ]);
        let cases: &[(&str, Option<&str>)] = &[
            ("https://api.example.com", None),
            ("https://api.example.com:443", None),
            ("https://a.b.hooks.test", None),
            ("http://10.2.3.4:8080", None),
            // Each part of the origin counts: scheme, host, port.
            (
                "http://api.example.com",
                Some("network = [\"http://api.example.com\"]"),
            ),
            (
                "https://api.example.com:8443",
                Some("network = [\"https://api.example.com:8443\"]"),
            ),
            (
                "https://hooks.test",
                Some("https://hooks.test is not a declared origin"),
            ),
            (
                "https://evil.example",
                Some("network = [\"https://evil.example\"]"),
            ),
            ("http://10.2.3.4:8081", Some("not a declared origin")),
        ];
        for (url, want) in cases {
            check(origin_verdict(&granted, &dest(url)), *want, url);
        }
        check(
            origin_verdict(&[], &dest("https://api.example.com")),
            Some("not a declared origin"),
            "nothing granted",
        );
    }

    #[test]
    fn a_placeholder_is_filled_only_for_its_audience_and_with_a_value() {
        let secret = |send_to: &[&str], missing: Option<&str>| RunSecret {
            send_to: origins(send_to),
            expose: false,
            value: None,
            missing: missing.map(Into::into),
            forms: None,
        };
        let hooks = secret(&["https://hooks.slack.com"], None);
        let unset = secret(
            &["https://hooks.slack.com"],
            Some("the policy's [secrets.T] reads it from environment variable T, which is not set"),
        );
        let cases: &[(Option<&RunSecret>, &str, Option<&str>)] = &[
            (Some(&hooks), "https://hooks.slack.com", None),
            (
                Some(&hooks),
                "https://evil.example",
                Some(
                    "may be sent only to [https://hooks.slack.com] (its send_to), not to https://evil.example",
                ),
            ),
            (
                Some(&hooks),
                "http://hooks.slack.com",
                Some("send_to = [\"http://hooks.slack.com\"]"),
            ),
            (
                None,
                "https://hooks.slack.com",
                Some("{ name = \"T\", send_to = [\"https://hooks.slack.com\"] }"),
            ),
            // The audience is judged first: a secret without a value is not
            // named as such to a host outside its audience.
            (Some(&unset), "https://evil.example", Some("its send_to")),
            (
                Some(&unset),
                "https://hooks.slack.com",
                Some("environment variable T, which is not set"),
            ),
        ];
        for (secret, url, want) in cases {
            check(audience_verdict("T", *secret, &dest(url)), *want, url);
        }
    }

    #[test]
    fn a_blocked_address_is_reached_only_when_granted_by_address() {
        use Sensitive::*;
        let named = origins(&["http://internal.test"]);
        let by_address = origins(&["http://10.1.2.3", "http://192.168.0.0/16:8080"]);
        let private: Vec<IpBlock> = vec!["172.16.0.0/12".parse().unwrap()];
        // (URL, resolved address, granted origins, allow_private, forbid,
        // the refusal expected).
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [Origin],
            &'a [IpBlock],
            &'a [Sensitive],
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            // A public address needs nothing more than the origin.
            (
                "http://internal.test",
                "93.184.216.34:80",
                &named,
                &[],
                &[],
                None,
            ),
            // A private one behind a granted name is refused, with both ways to allow it.
            (
                "http://internal.test",
                "10.1.2.3:80",
                &named,
                &[],
                &[],
                Some(
                    "internal.test resolves to 10.1.2.3, a private address, which actions reach only when it is granted by address: the manifest would need network = [\"http://10.1.2.3\"], or the policy allow_private = [\"10.1.2.3\"]",
                ),
            ),
            (
                "http://10.1.2.3",
                "10.1.2.3:80",
                &by_address,
                &[],
                &[],
                None,
            ),
            (
                "http://192.168.7.7:8080",
                "192.168.7.7:8080",
                &by_address,
                &[],
                &[],
                None,
            ),
            // The block's port counts.
            (
                "http://192.168.7.7:8080",
                "192.168.7.7:9090",
                &by_address,
                &[],
                &[],
                Some("192.168.7.7 is a private address"),
            ),
            (
                "http://internal.test",
                "172.20.0.1:80",
                &named,
                &private,
                &[],
                None,
            ),
            (
                "http://internal.test",
                "127.0.0.1:80",
                &named,
                &private,
                &[],
                Some("loopback"),
            ),
            // What the policy forbids is not reached even when granted.
            (
                "http://10.1.2.3",
                "10.1.2.3:80",
                &by_address,
                &[],
                &[Wide, Loopback],
                None,
            ),
            (
                "http://internal.test",
                "169.254.169.254:80",
                &origins(&["http://169.254.169.254"]),
                &[],
                &[Metadata],
                Some("forbid = [\"metadata\"]"),
            ),
            // And an unspecified address (which no origin can even name) never is.
            (
                "http://internal.test",
                "0.0.0.0:80",
                &named,
                &private,
                &[],
                Some("unspecified"),
            ),
        ];
        for (url, addr, granted, allow, forbid, want) in cases {
            check(
                address_verdict(&dest(url), addr.parse().unwrap(), granted, allow, forbid),
                *want,
                &format!("{url} at {addr}"),
            );
        }
    }

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
