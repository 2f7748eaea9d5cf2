//! Profile rules and macro expansion of the multiplatform-phone provisioning
//! dialect (SPEC §2 R-RULE, §3 R-MACRO), shared by the server side (lint,
//! render) and the phone side (resync engine, `phoneprov rule expand`).
//!
//! # Why hand-written
//! No published crate implements this dialect (it is specific to one vendor's
//! phone firmware), and it is small, so this crate holds a small hand-written
//! recursive-descent parser ([`parser`]) and a hand-written `$`-macro scanner
//! ([`macros`]). URL handling is also hand-written: the dialect's URLs are not
//! RFC 3986 URLs (the scheme and the server are optional, macros may sit
//! anywhere, even in the host), so a general URL crate would reject or
//! rewrite them.
//!
//! # Rule grammar (R-RULE)
//! ```text
//! rule        := ws* ( '#' any*                        -- disabled rule
//!                    | ε                               -- empty: no rule
//!                    | alternative ( '|' alternative )* ) ws*
//! alternative := [ '(' condition ')?' ] [ '(' assignments ')!' ]
//!                [ '[' option* ']' ] url
//! condition   := comparison ( 'and' comparison )*
//! comparison  := operand op operand
//! op          := '=' | 'eq' | '!=' | 'ne' | '<' | 'lt' | '<=' | 'le'
//!              | '>' | 'gt' | '>=' | 'ge'
//! operand     := '"' quoted-chars '"' | bare-token    -- macros expanded in both
//! assignments := assignment ( ';' assignment )* [ ';' ]
//! assignment  := name '=' value                      -- `a`..`p`, `$A`.. = GPP_A..
//! option      := '--key' value | '--uid' value | '--pwd' value
//!              | '--alias' gpp-letter | '--post' value | '--srv'
//! url         := [ scheme '://' ] [ server [ ':' port ] ] '/' path
//! ```
//! Assignment names: `a`..`p`, `sa`..`sd` and `$A`..`$P`, `$SA`..`$SD` mean
//! `GPP_A`..`GPP_SD`; any other identifier is a full parameter name
//! (`Resync_Periodic`). Option values may be bare or quoted
//! (`[--key "my secret"]`). A scheme-less URL cannot start with `[` (that
//! opens the options): an IPv6 server needs its scheme (`tftp://[::1]/a`).
//!
//! Every alternative but the last must have a condition; the first
//! alternative whose condition holds (or that has none) is selected
//! ([`ProfileRule::select`]). Word operators and `and` are case-insensitive.
//! Quoted strings accept `\"` and `\\` escapes and compare only with `eq`/`ne`.
//!
//! Comparisons (see [`version`]): `eq`/`ne` compare text exactly, or
//! numerically when both sides are integers; `lt`/`le`/`gt`/`ge` compare
//! integers numerically and anything else as firmware versions, run by run.
//!
//! URLs (see [`url`]): a missing scheme means TFTP; a missing server means the
//! context's default server (DHCP option 66 or the host that asked for the
//! resync); default ports are 69/80/443. Without a scheme, the text before the
//! first `/` is a server only if it looks like one (contains a `.` or `:`, is
//! `localhost`, or is a macro); otherwise the URL is a relative path, which is
//! an error. `gds://` (R-RULE-5) needs no server nor path.
//!
//! Macros are expanded at selection time, part by part (each operand, each
//! option value, each assignment value, the URL), after parsing: a macro value
//! can never change a rule's structure (a GPP holding `|` or `)?` stays data),
//! but it may hold a whole URL (`$A`), which is then checked when selected.
//!
//! # Example
//! ```
//! use phoneprov_rule::{MacroContext, ProfileRule};
//! let mut ctx = MacroContext::new().with_mac("00:0e:08:01:23:45")?;
//! ctx.set_gpp("B", "Dj6Lmp23Q")?;
//! let rule: ProfileRule = "tftp://prov.telco.com/cisco/$B/$MA.cfg".parse()?;
//! let sel = rule.select(&ctx)?.expect("no condition: always selected");
//! assert_eq!(sel.url.to_string(), "tftp://prov.telco.com/cisco/Dj6Lmp23Q/000e08012345.cfg");
//! assert_eq!(sel.url.port, 69);
//! # Ok::<(), phoneprov_rule::RuleError>(())
//! ```
//!
//! # Macros (R-MACRO)
//! See [`macros`] for the full rules: `$NAME`, `$(NAME)`, `$(NAME:p)`,
//! `$(NAME:p:q)`, `$$`; unknown names stay literal; `SA`..`SD` expand only
//! inside `--key`/`--uid`/`--pwd` values.

pub mod ast;
pub mod context;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod lint;
pub mod macros;
pub mod parser;
pub mod select;
pub mod url;
pub mod version;

pub use ast::{
    Alternative, Assignment, Comparison, Condition, Op, Operand, OptionSpec, ProfileRule,
};
pub use context::MacroContext;
pub use error::{RuleError, UrlErrorKind};
pub use lint::{codes, lint_rule, lint_template, RuleProblem, Severity};
pub use macros::{escape, expand, expand_secret, is_macro_name, MACRO_FAMILIES, MACRO_NAMES};
pub use select::{RuleOptions, Selection};
pub use url::{ResolvedUrl, Scheme};
pub use version::compare_versions;
