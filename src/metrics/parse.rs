//! The DogStatsD datagram grammar (PROTOCOLS.md §5), parsed without allocating: every field
//! borrows from the packet. One malformed line is an error for that line only.
//!
//! `name:value[:value…]|type[|@rate][|#tag,k:v][|T<unix ts>][|c:<container>]`
//! `_e{<title len>,<text len>}:<title>|<text>|d:…|h:…|k:…|p:…|s:…|t:…|#tags`
//! `_sc|<name>|<0-3>|d:…|h:…|#tags|m:<message>`

#![deny(clippy::indexing_slicing, clippy::string_slice)] // parses input from outside the process

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Count,
    Gauge,
    Timer,
    Histogram,
    Set,
    Distribution,
}

/// One metric line. `values` and `tags` are raw (`:`- and `,`-separated).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine<'a> {
    pub name: &'a str,
    values: &'a str,
    /// The value already parsed, when there is exactly one (the common case): saves parsing
    /// it twice on the hot path.
    single: Option<f64>,
    pub kind: Kind,
    pub sample_rate: f64,
    pub tags: &'a str,
    pub timestamp: Option<i64>,
    pub container: Option<&'a str>,
}

impl<'a> MetricLine<'a> {
    /// Numeric values (validated at parse time for every kind but sets).
    pub fn numbers(&self) -> impl Iterator<Item = f64> + 'a {
        let single = self.single;
        let rest = if single.is_some() { "" } else { self.values };
        single.into_iter().chain(
            rest.split(':')
                .filter(|v| !v.is_empty())
                .filter_map(|v| v.trim().parse::<f64>().ok()),
        )
    }

    /// Raw values (set members).
    pub fn raw_values(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.values.split(':')
    }

    pub fn tags(&self) -> impl Iterator<Item = &'a str> + 'a {
        split_tags(self.tags)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub title: String,
    pub text: String,
    pub timestamp: Option<i64>,
    pub hostname: Option<&'a str>,
    pub aggregation_key: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub source_type: Option<&'a str>,
    pub alert_type: Option<&'a str>,
    pub tags: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCheck<'a> {
    pub name: &'a str,
    pub status: u8,
    pub timestamp: Option<i64>,
    pub hostname: Option<&'a str>,
    pub message: Option<String>,
    pub tags: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    Metric(MetricLine<'a>),
    Event(Event<'a>),
    ServiceCheck(ServiceCheck<'a>),
}

/// Why a line was rejected (counted by the server, never logged per line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty metric name")]
    EmptyName,
    #[error("invalid character in metric name")]
    BadName,
    #[error("missing value")]
    NoValue,
    #[error("value is not a finite number")]
    BadValue,
    #[error("missing or unknown metric type")]
    BadType,
    #[error("sample rate is not in (0, 1]")]
    BadSampleRate,
    #[error("bad timestamp")]
    BadTimestamp,
    #[error("malformed event")]
    BadEvent,
    #[error("malformed service check")]
    BadServiceCheck,
}

/// The lines of a packet: split on `\n`, `\r` trimmed, empty lines skipped.
pub fn lines(packet: &str) -> impl Iterator<Item = &str> {
    packet
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
}

/// The lines of a datagram as bytes: each line is checked for UTF-8 on its own, so one bad
/// byte costs its line only. `\r` trimmed, empty lines skipped.
pub fn byte_lines(packet: &[u8]) -> impl Iterator<Item = Result<&str, std::str::Utf8Error>> {
    packet
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .map(std::str::from_utf8)
}

pub fn split_tags(tags: &str) -> impl Iterator<Item = &str> {
    tags.split(',').map(str::trim).filter(|t| !t.is_empty())
}

pub fn parse_line(line: &str) -> Result<Parsed<'_>, ParseError> {
    if let Some(rest) = line.strip_prefix("_e{") {
        return parse_event(rest).map(Parsed::Event);
    }
    if let Some(rest) = line.strip_prefix("_sc|") {
        return parse_service_check(rest).map(Parsed::ServiceCheck);
    }
    parse_metric(line).map(Parsed::Metric)
}

fn parse_metric(line: &str) -> Result<MetricLine<'_>, ParseError> {
    let (name, rest) = line.split_once(':').ok_or(ParseError::NoValue)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    if name.contains(['|', '#', ',']) || name.chars().any(char::is_whitespace) {
        return Err(ParseError::BadName);
    }
    let mut sections = rest.split('|');
    let values = sections.next().unwrap_or("");
    if values.is_empty() {
        return Err(ParseError::NoValue);
    }
    let kind = match sections.next().map(str::trim) {
        Some("c") => Kind::Count,
        Some("g") => Kind::Gauge,
        Some("ms") => Kind::Timer,
        Some("h") => Kind::Histogram,
        Some("s") => Kind::Set,
        Some("d") => Kind::Distribution,
        _ => return Err(ParseError::BadType),
    };
    let mut single = None;
    if kind == Kind::Set {
        if values.split(':').any(str::is_empty) {
            return Err(ParseError::NoValue);
        }
    } else {
        let mut n = 0;
        for v in values.split(':') {
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => single = Some(x),
                _ => return Err(ParseError::BadValue),
            }
            n += 1;
        }
        if n > 1 {
            single = None;
        }
    }
    let mut m = MetricLine {
        name,
        values,
        single,
        kind,
        sample_rate: 1.0,
        tags: "",
        timestamp: None,
        container: None,
    };
    for section in sections {
        if let Some(rate) = section.strip_prefix('@') {
            m.sample_rate = match rate.parse::<f64>() {
                Ok(r) if r > 0.0 && r <= 1.0 => r,
                _ => return Err(ParseError::BadSampleRate),
            };
        } else if let Some(tags) = section.strip_prefix('#') {
            m.tags = tags;
        } else if let Some(ts) = section.strip_prefix('T') {
            m.timestamp = Some(parse_ts(ts)?);
        } else if let Some(c) = section.strip_prefix("c:") {
            m.container = Some(c);
        }
        // Other sections (`e:` external data, `card:`, future ones) are accepted and ignored,
        // as the Agent does.
    }
    Ok(m)
}

fn parse_ts(ts: &str) -> Result<i64, ParseError> {
    match ts.parse::<i64>() {
        Ok(t) if t > 0 => Ok(t),
        _ => Err(ParseError::BadTimestamp),
    }
}

/// `{<title len>,<text len>}:<title>|<text>|…` (after the `_e{`). Lengths are in bytes.
fn parse_event(rest: &str) -> Result<Event<'_>, ParseError> {
    let (lens, body) = rest.split_once("}:").ok_or(ParseError::BadEvent)?;
    let (tl, xl) = lens.split_once(',').ok_or(ParseError::BadEvent)?;
    let title_len: usize = tl.parse().map_err(|_| ParseError::BadEvent)?;
    let text_len: usize = xl.parse().map_err(|_| ParseError::BadEvent)?;
    let title = body.get(..title_len).ok_or(ParseError::BadEvent)?;
    let after_title = body.get(title_len..).ok_or(ParseError::BadEvent)?;
    let after_title = after_title.strip_prefix('|').ok_or(ParseError::BadEvent)?;
    let text = after_title.get(..text_len).ok_or(ParseError::BadEvent)?;
    let tail = after_title.get(text_len..).ok_or(ParseError::BadEvent)?;
    if title.is_empty() || !(tail.is_empty() || tail.starts_with('|')) {
        return Err(ParseError::BadEvent);
    }
    let mut e = Event {
        title: title.replace("\\n", "\n"),
        text: text.replace("\\n", "\n"),
        timestamp: None,
        hostname: None,
        aggregation_key: None,
        priority: None,
        source_type: None,
        alert_type: None,
        tags: "",
    };
    for section in tail.split('|').skip(1) {
        if let Some(v) = section.strip_prefix("d:") {
            e.timestamp = Some(parse_ts(v).map_err(|_| ParseError::BadEvent)?);
        } else if let Some(v) = section.strip_prefix("h:") {
            e.hostname = Some(v);
        } else if let Some(v) = section.strip_prefix("k:") {
            e.aggregation_key = Some(v);
        } else if let Some(v) = section.strip_prefix("p:") {
            e.priority = Some(v);
        } else if let Some(v) = section.strip_prefix("s:") {
            e.source_type = Some(v);
        } else if let Some(v) = section.strip_prefix("t:") {
            e.alert_type = Some(v);
        } else if let Some(v) = section.strip_prefix('#') {
            e.tags = v;
        }
    }
    Ok(e)
}

/// `<name>|<status>|…` (after the `_sc|`).
fn parse_service_check(rest: &str) -> Result<ServiceCheck<'_>, ParseError> {
    let mut sections = rest.split('|');
    let name = sections
        .next()
        .filter(|n| !n.is_empty())
        .ok_or(ParseError::BadServiceCheck)?;
    let status = match sections.next() {
        Some("0") => 0,
        Some("1") => 1,
        Some("2") => 2,
        Some("3") => 3,
        _ => return Err(ParseError::BadServiceCheck),
    };
    let mut sc = ServiceCheck {
        name,
        status,
        timestamp: None,
        hostname: None,
        message: None,
        tags: "",
    };
    for section in sections {
        if let Some(v) = section.strip_prefix("d:") {
            sc.timestamp = Some(parse_ts(v).map_err(|_| ParseError::BadServiceCheck)?);
        } else if let Some(v) = section.strip_prefix("h:") {
            sc.hostname = Some(v);
        } else if let Some(v) = section.strip_prefix('#') {
            sc.tags = v;
        } else if let Some(v) = section.strip_prefix("m:") {
            sc.message = Some(v.replace("\\n", "\n"));
        }
    }
    Ok(sc)
}

#[cfg(test)]
mod tests;
