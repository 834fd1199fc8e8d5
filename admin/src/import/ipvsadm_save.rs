//! ipvsadm-save text -> ferrovs configuration.
//!
//! The input is what `ipvsadm -S [-n]` / `ipvsadm-save` prints (and what `ipvsadm -R` reads):
//! each line is parsed with the ipvsadm grammar and applied with the kernel's semantics, onto the
//! base configuration with its services cleared (`ipvsadm-restore` flushes the table first).
//! Every grammar error is reported with its line; the first refused operation stops the import.
//! ipvsadm-save does not write thresholds (`-x`/`-y`), so none are imported.

use config::Config;

use super::{Diagnostic, Imported};
use crate::ipvsadm::{self, Command, Parsed};
use crate::names::Names;
use crate::proto::Op;

/// Import ipvsadm-save `text` onto `base`.
///
/// # Errors
///
/// Every line that does not parse (with ipvsadm's message), a line that is not a change, the
/// first operation refused (with its line), or the validation errors of the result.
pub fn import(text: &str, base: &Config, names: &dyn Names) -> Result<Imported, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut ops = Vec::new();
    for (line, argv) in ipvsadm::restore_lines(text, "ipvsadm") {
        match ipvsadm::parse(&argv, true, names) {
            Ok(Parsed::Command(Command::Apply(op))) => ops.push((line, op)),
            Ok(_) => errors.push(Diagnostic {
                line,
                message:
                    "not a change (-A -E -D -C -a -e -d --set); ipvsadm-save writes only -A and -a"
                        .into(),
            }),
            Err(e) => errors.push(Diagnostic {
                line,
                message: e.message.trim_end().to_owned(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut cfg = base.clone();
    cfg.services.clear();
    for (line, op) in &ops {
        if let Err(e) = crate::apply::apply(&mut cfg, op) {
            return Err(vec![Diagnostic {
                line: *line,
                message: explain(e.message, op),
            }]);
        }
    }
    match crate::apply::validate(&cfg) {
        Ok(config) => Ok(Imported {
            config,
            warnings: Vec::new(),
            notes: Vec::new(),
            ha: None,
        }),
        Err(e) => Err(e
            .message
            .lines()
            .map(|l| Diagnostic {
                line: 0,
                message: l.to_owned(),
            })
            .collect()),
    }
}

/// The kernel's message, and for its vaguest one which name was wrong: ipvsadm says
/// "Scheduler or persistence engine not found" for both, without the name.
fn explain(message: String, op: &Op) -> String {
    let (Op::AddService(spec) | Op::EditService(spec)) = op else {
        return message;
    };
    if message != crate::apply::E_NO_SCHEDULER {
        return message;
    }
    if let Some(pe) = &spec.pe {
        return format!("{message}: persistence engine `{pe}` (ferrovs has none)");
    }
    format!(
        "{message}: unknown scheduler `{}` (known: {})",
        spec.scheduler,
        ipvsadm::SCHEDULERS.replace('|', ", ")
    )
}
