//! Tracer-computed stats: a tracer posts a msgpack `ClientStatsPayload` to `/v0.6/stats`; the
//! intake (`/api/v0.2/stats`) takes a gzip'd msgpack `StatsPayload` that wraps it. The
//! client payload is spliced in as received — never decoded — so nothing it holds is lost.

use crate::payload::{Payload, Signal};

fn str_(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    match n {
        0..=31 => out.push(0xa0 | n as u8),
        32..=255 => out.extend_from_slice(&[0xd9, n as u8]),
        _ => {
            out.push(0xda);
            out.extend_from_slice(&(n.min(u16::MAX as usize) as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(&s.as_bytes()[..n.min(u16::MAX as usize)]);
}

/// `StatsPayload{AgentHostname, AgentEnv, Stats: [client], AgentVersion, ClientComputed}`.
pub(crate) fn wrap(client_payload: &[u8], env: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(client_payload.len() + 96);
    out.push(0x85);
    str_(&mut out, "AgentHostname");
    str_(&mut out, "");
    str_(&mut out, "AgentEnv");
    str_(&mut out, env);
    str_(&mut out, "Stats");
    out.push(0x91);
    out.extend_from_slice(client_payload);
    str_(&mut out, "AgentVersion");
    str_(&mut out, concat!("tandem-", env!("CARGO_PKG_VERSION")));
    str_(&mut out, "ClientComputed");
    out.push(0xc3);
    out
}

/// The `/api/v0.2/stats` body: the wrapped payload, gzip'd (sent plain if that fails).
pub(crate) fn payload(client_payload: &[u8], env: &str) -> Payload {
    Payload::gzip(
        wrap(client_payload, env),
        "application/msgpack",
        Signal::Traces,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::msgpack::Reader;

    #[test]
    fn wraps_the_client_payload_untouched() {
        // A ClientStatsPayload with a couple of fields, as a tracer would send it.
        let client = [
            0x82, 0xa8, b'H', b'o', b's', b't', b'n', b'a', b'm', b'e', 0xa1, b'h', 0xa3, b'E',
            b'n', b'v', 0xa4, b'p', b'r', b'o', b'd',
        ];
        let wrapped = wrap(&client, "test");
        let mut r = Reader::new(&wrapped);
        assert_eq!(r.map_len().unwrap(), 5);
        let mut seen = Vec::new();
        for _ in 0..5 {
            let key = r.str().unwrap().to_string();
            if key == "Stats" {
                assert_eq!(r.array_len().unwrap(), 1);
                assert_eq!(r.map_len().unwrap(), 2);
                assert_eq!(r.str().unwrap(), "Hostname");
                assert_eq!(r.str().unwrap(), "h");
                assert_eq!(r.str().unwrap(), "Env");
                assert_eq!(r.str().unwrap(), "prod");
            } else if key == "AgentEnv" {
                assert_eq!(r.str().unwrap(), "test");
            } else {
                r.skip().unwrap();
            }
            seen.push(key);
        }
        assert_eq!(
            seen,
            [
                "AgentHostname",
                "AgentEnv",
                "Stats",
                "AgentVersion",
                "ClientComputed"
            ]
        );
        let unzipped = {
            use std::io::Read;
            let zipped = payload(&client, "test");
            assert_eq!(zipped.encoding.as_deref(), Some("gzip"));
            let mut d = flate2::read::GzDecoder::new(&zipped.body[..]);
            let mut v = Vec::new();
            d.read_to_end(&mut v).unwrap();
            v
        };
        assert_eq!(unzipped, wrapped);
    }
}
