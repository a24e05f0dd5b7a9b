//! The floor a full-archive run is measured against (`bench/run.sh`): the
//! least any tool must do to build feeds of a folder of Markdown: read
//! every file, parse its YAML front matter, render its Markdown to HTML,
//! on two threads, and nothing else (no feed is written, no HTML is
//! sanitized, nothing is cached). Prints how many files and bytes of HTML,
//! so the work cannot be optimised away.
//!
//! `cargo run --release --example floor -- DIR`

use std::path::PathBuf;

use rayon::prelude::*;

fn main() {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("usage: floor DIR");
            std::process::exit(2)
        });
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .unwrap_or_else(|e| {
            eprintln!("floor: {e}");
            std::process::exit(1)
        });
    let mut files = Vec::new();
    if let Err(e) = markdown_files(&dir, &mut files) {
        eprintln!("floor: {}: {e}", dir.display());
        std::process::exit(1)
    }
    let html_bytes: usize = files
        .par_iter()
        .map(|path| {
            let Ok(text) = std::fs::read_to_string(path) else {
                return 0;
            };
            let (yaml, body) = split(&text);
            let front: Result<serde_json::Value, _> = serde_saphyr::from_str(yaml);
            let mut html = String::with_capacity(body.len() * 3 / 2);
            pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new(body));
            html.len() + usize::from(front.is_ok())
        })
        .sum();
    println!("{} files, {html_bytes} bytes of HTML", files.len());
}

/// Every `.md` file below `dir`.
fn markdown_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            markdown_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// The front matter between `---` fences, and the body after it.
fn split(text: &str) -> (&str, &str) {
    let Some(rest) = text.strip_prefix("---\n") else {
        return ("", text);
    };
    match rest.find("\n---\n") {
        Some(end) => (&rest[..end], &rest[end + 5..]),
        None => ("", text),
    }
}
