//! Reads every `*.yaml` / `*.yml` file of a tree into memory, then drains each parser's events over
//! all of them, one core, three rounds; prints MB/s per parser. Only parsing is timed: no tree is
//! built, so this is each parser's ceiling for what vigil's YAML reader could reach with it.
//! libyaml is here twice, as its Rust translation (`unsafe-libyaml`, serde_yaml's parser) and as
//! its safe port (`libyaml-safer`), to answer whether the C parser's design would be faster.

use std::time::{Duration, Instant};

/// One parser: drains every event of `text`, returns how many it saw (stopping at an error).
type Drain = fn(&str) -> usize;

fn saphyr_vigil(text: &str) -> usize {
    let mut p = saphyr_vigil::Parser::new_from_str(text);
    let mut n = 0;
    while let Some(Ok(_)) = p.next_event() {
        n += 1;
    }
    n
}

fn saphyr_latest(text: &str) -> usize {
    let mut p = saphyr_latest::Parser::new_from_str(text);
    let mut n = 0;
    while let Some(Ok(_)) = p.next_event() {
        n += 1;
    }
    n
}

fn rlsp(text: &str) -> usize {
    rlsp_yaml_parser::parse_events(text)
        .take_while(Result::is_ok)
        .count()
}

fn granit(text: &str) -> usize {
    let mut p = granit_parser::Parser::new_from_str(text);
    let mut n = 0;
    while let Some(Ok(_)) = p.next_event() {
        n += 1;
    }
    n
}

fn libyaml_safer(text: &str) -> usize {
    let mut bytes = text.as_bytes();
    let mut p = libyaml_safer::Parser::new();
    p.set_input_string(&mut bytes);
    let mut n = 0;
    loop {
        match p.parse() {
            Ok(e) if e.data == libyaml_safer::EventData::StreamEnd => return n + 1,
            Ok(_) => n += 1,
            Err(_) => return n,
        }
    }
}

fn unsafe_libyaml(text: &str) -> usize {
    use std::mem::MaybeUninit;
    use unsafe_libyaml as unsafe_y;
    // SAFETY: the parser and event live on this stack frame, the input outlives the parser, and
    // every event is deleted after it is read, as libyaml's own examples do.
    unsafe {
        let mut parser = MaybeUninit::<unsafe_y::yaml_parser_t>::uninit();
        let parser = parser.as_mut_ptr();
        if unsafe_y::yaml_parser_initialize(parser).fail {
            return 0;
        }
        unsafe_y::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as _);
        let mut n = 0;
        loop {
            let mut event = MaybeUninit::<unsafe_y::yaml_event_t>::uninit();
            let event = event.as_mut_ptr();
            if unsafe_y::yaml_parser_parse(parser, event).fail {
                break;
            }
            n += 1;
            let end = (*event).type_ == unsafe_y::YAML_STREAM_END_EVENT;
            unsafe_y::yaml_event_delete(event);
            if end {
                break;
            }
        }
        unsafe_y::yaml_parser_delete(parser);
        n
    }
}

fn main() {
    let root = std::env::args().nth(1).expect("usage: yaml-parsers TREE");
    let mut texts = Vec::new();
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.expect("walk");
        let yaml = matches!(
            entry.path().extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml")
        );
        if yaml {
            if let Ok(t) = std::fs::read_to_string(entry.path()) {
                texts.push(t);
            }
        }
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "{} YAML files, {:.1} MB, one core, best of 3 rounds",
        texts.len(),
        bytes as f64 / 1e6
    );
    let parsers: [(&str, Drain); 6] = [
        ("saphyr-parser 0.0.6 (vigil's)", saphyr_vigil),
        ("libyaml-safer 0.3.0", libyaml_safer),
        (
            "unsafe-libyaml 0.2.11 (libyaml 0.2.5 in Rust)",
            unsafe_libyaml,
        ),
        ("saphyr-parser 0.3.4", saphyr_latest),
        ("rlsp-yaml-parser 0.11.1", rlsp),
        ("granit-parser 2.2.0", granit),
    ];
    println!("| parser | events | best time | MB/s |");
    println!("|---|---:|---:|---:|");
    for (name, drain) in parsers {
        let mut best = Duration::MAX;
        let mut events = 0;
        for _ in 0..3 {
            let t0 = Instant::now();
            events = texts.iter().map(|t| drain(t)).sum::<usize>();
            best = best.min(t0.elapsed());
        }
        println!(
            "| {name} | {events} | {:.2} s | {:.1} |",
            best.as_secs_f64(),
            bytes as f64 / best.as_secs_f64() / 1e6
        );
    }
}
