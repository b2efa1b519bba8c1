//! `angou completions` and `angou man`: shell completion scripts and man pages, generated
//! from the same clap definitions that parse the command line, so they cannot drift from it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{Cli, EXIT_CODES};
use crate::failure::Failure;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write angou.1 and one page per command (angou-encrypt.1, angou-kms-create-key.1, …) into
    /// DIR, replacing pages already there, instead of printing angou(1) to standard output
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "angou", &mut out);
    write_stdout(&out)
}

pub fn man(args: ManArgs) -> Result<(), Failure> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Fills in the display names (`angou-encrypt`) that the page names and references use.
    cmd.build();
    match args.dir {
        None => write_stdout(&page(&cmd)),
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Failure::usage(format!("{} is not a folder", dir.display()))
                    .hint("create it first, e.g. mkdir -p ~/.local/share/man/man1"));
            }
            let mut written = 0usize;
            write_pages(&cmd, &dir, &mut written)?;
            eprintln!("wrote {written} man pages to {}", dir.display());
            Ok(())
        }
    }
}

fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<(), Failure> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    std::fs::write(&path, page(cmd))
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// One man page: clap_mangen's sections, with the exit codes under the conventional
/// EXIT STATUS heading (clap_mangen would file them under EXTRA).
fn page(cmd: &clap::Command) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(concat!("angou ", env!("CARGO_PKG_VERSION")))
        .manual("angou manual");
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    // roff puts its quote-string definition (`.ie \n(.g .ds Aq …`) before every section it
    // renders; a page starts with its `.TH` line, so the definition follows it, once.
    let text = String::from_utf8_lossy(&out).into_owned();
    let (preamble, title): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| l.starts_with(".ie ") || l.starts_with(".el "));
    let mut out = Vec::new();
    for line in title.iter().chain(&preamble) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    let mut body = Vec::new();
    let _ = man.render_name_section(&mut body);
    let _ = man.render_synopsis_section(&mut body);
    let _ = man.render_description_section(&mut body);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut body);
    }
    if cmd.has_subcommands() {
        let _ = man.render_subcommands_section(&mut body);
    }
    body.extend_from_slice(b".SH \"EXIT STATUS\"\n.nf\n");
    for line in EXIT_CODES.lines().skip(1) {
        body.extend_from_slice(roff_line(line).as_bytes());
        body.push(b'\n');
    }
    body.extend_from_slice(b".fi\n");
    if cmd.get_version().is_some() || cmd.get_long_version().is_some() {
        let _ = man.render_version_section(&mut body);
    }
    for line in String::from_utf8_lossy(&body).lines() {
        if !preamble.contains(&line) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// A line of literal text for roff: backslashes escaped, and a leading `.` or `'` (which roff
/// would read as a request) neutralised.
fn roff_line(text: &str) -> String {
    let text = text.replace('\\', "\\e");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(format!("cannot write to standard output: {e}")))
}
