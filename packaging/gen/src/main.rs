//! `ferrovs-gen`: writes the man pages ferrovs(8) and ferrovsadm(8) and the bash and zsh
//! completions of both, from the command-line definitions the binaries parse with
//! (`ferrovs::cli`, `admin::manual`). `packaging/build-deb.sh` runs it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, ValueEnum};
use clap_complete::Shell;

/// Render man pages or shell completions into a folder.
#[derive(Debug, Parser)]
#[command(name = "ferrovs-gen", version, about)]
struct Args {
    /// What to write.
    #[arg(value_enum)]
    what: What,
    /// The folder to write into (created if missing).
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum What {
    /// ferrovs.8 and ferrovsadm.8.
    Man,
    /// bash/{ferrovs,ferrovsadm} and zsh/{_ferrovs,_ferrovsadm}.
    Completions,
}

fn commands() -> [clap::Command; 2] {
    [ferrovs::cli::Cli::command(), admin::manual::command()]
}

fn man(out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    for cmd in commands() {
        let name = cmd.get_name().to_owned();
        let mut page = Vec::new();
        let synopsis = cmd.get_overridden_usage().map(|u| u.to_string());
        let man = clap_mangen::Man::new(cmd).section("8");
        match synopsis {
            // ipvsadm's usage forms say more than one flat list of every option.
            Some(forms) => {
                man.render_title(&mut page)?;
                man.render_name_section(&mut page)?;
                page.extend_from_slice(b".SH SYNOPSIS\n");
                for form in forms.lines() {
                    page.extend_from_slice(format!("{}\n.br\n", roff_text(form)).as_bytes());
                }
                man.render_description_section(&mut page)?;
                man.render_options_section(&mut page)?;
                man.render_version_section(&mut page)?;
            }
            None => man.render(&mut page)?,
        }
        std::fs::write(out.join(format!("{name}.8")), page)?;
    }
    Ok(())
}

/// `s` as one line of roff text: backslashes and hyphens escaped, no leading control dot.
fn roff_text(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

fn completions(out: &Path) -> std::io::Result<()> {
    for shell in [Shell::Bash, Shell::Zsh] {
        let dir = out.join(shell.to_string());
        std::fs::create_dir_all(&dir)?;
        for mut cmd in commands() {
            let name = cmd.get_name().to_owned();
            clap_complete::generate_to(shell, &mut cmd, &name, &dir)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let done = match args.what {
        What::Man => man(&args.out),
        What::Completions => completions(&args.out),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferrovs-gen: {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
