//! `phoneprov generate man|completions DIR` (hidden): writes the man pages
//! (clap_mangen, one page per subcommand: `phoneprov.1`,
//! `phoneprov-serve.1`, ...) and the bash, zsh and fish completions
//! (clap_complete) of the real clap command, so they never drift from the
//! flags. `scripts/build-deb` calls it with the binary it packages.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;

#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Write one man page per command (section 1) into DIR.
    Man {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
    /// Write bash (`phoneprov.bash`), zsh (`_phoneprov`) and fish
    /// (`phoneprov.fish`) completions into DIR.
    Completions {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
}

pub fn run(cmd: GenerateCommand) -> anyhow::Result<i32> {
    match cmd {
        GenerateCommand::Man { dir } => {
            create(&dir)?;
            clap_mangen::generate_to(crate::Cli::command(), &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
        }
        GenerateCommand::Completions { dir } => {
            create(&dir)?;
            let mut command = crate::Cli::command();
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                clap_complete::generate_to(shell, &mut command, "phoneprov", &dir).with_context(
                    || format!("cannot write {shell} completions into {}", dir.display()),
                )?;
            }
        }
    }
    Ok(0)
}

fn create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}
