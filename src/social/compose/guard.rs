//! What a post template may do, checked before it is compiled, so that no
//! template can exhaust memory, whatever the article.
//!
//! minijinja bounds a template's work (fuel) but not what it allocates: a
//! template that doubles a string thirty times (by assignment, a recursive
//! macro, or a chain of filters) aborts the process. A post template needs
//! little of the language, so this module allows a part of it whose every
//! value has a size it can bound from the template alone: no assignments,
//! macros, calls, includes or repetition (`*`, `**`), and only filters whose
//! growth it knows. Each expression's bound, with every field at most
//! `MAX_FIELD` bytes, must stay under `MAX_VALUE`; the text a template
//! writes is capped separately (see `Composer`), as loops repeat it.
//!
//! Written by hand because minijinja has no memory limit to set; it walks
//! minijinja's own parse of the template (its `unstable_machinery` API).

use minijinja::machinery::ast::{BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::{WhitespaceConfig, parse};
use minijinja::syntax::SyntaxConfig;

/// The longest template source herald takes.
pub const MAX_SOURCE: usize = 4096;
/// The size every field a template sees is cut to (bytes; tags together).
pub const MAX_FIELD: u64 = 64 * 1024;
/// The largest value any expression of a template may reach, by its bound.
pub const MAX_VALUE: u64 = 8 * 1024 * 1024;

/// Why a template is refused: its line, and what it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Checks that `source` stays within what post templates may do.
pub fn check(source: &str) -> Result<(), Refusal> {
    if source.len() > MAX_SOURCE {
        return Err(Refusal {
            line: 0,
            message: format!(
                "the template is {} bytes; a post template may have at most {MAX_SOURCE}",
                source.len()
            ),
        });
    }
    // A template that does not parse is left to minijinja, whose message
    // says why.
    let Ok(ast) = parse(source, "post", SyntaxConfig, WhitespaceConfig::default()) else {
        return Ok(());
    };
    let fields = super::field_names();
    Walker {
        scopes: Vec::new(),
        fields: &fields,
    }
    .stmt(&ast)
}

struct Walker<'a> {
    /// Loop variables and the bound of what they hold.
    scopes: Vec<Vec<(&'a str, u64)>>,
    /// The names a template may use: the post's fields.
    fields: &'a [String],
}

fn refuse<T>(line: u16, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        line: usize::from(line),
        message: message.into(),
    })
}

const NOT_ALLOWED: &str =
    "post templates may not assign, define macros, call functions or include other templates";

impl<'a> Walker<'a> {
    fn stmts(&mut self, body: &'a [Stmt<'a>]) -> Result<(), Refusal> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&mut self, stmt: &'a Stmt<'a>) -> Result<(), Refusal> {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.bounded(&e.expr, e.span().start_line).map(drop),
            Stmt::EmitRaw(_) => Ok(()),
            Stmt::IfCond(c) => {
                self.expr(&c.expr)?;
                self.stmts(&c.true_body)?;
                self.stmts(&c.false_body)
            }
            Stmt::ForLoop(f) => {
                let line = f.span().start_line;
                if f.recursive {
                    return refuse(line, "recursive loops are not allowed in post templates");
                }
                let each = self.bounded(&f.iter, line)?;
                let mut names = Vec::new();
                collect_names(&f.target, &mut names);
                self.scopes
                    .push(names.into_iter().map(|n| (n, each)).collect());
                // The loop's filter sees its variables.
                let filter = f.filter_expr.as_ref().map(|e| self.expr(e)).transpose();
                let body = filter.and_then(|_| self.stmts(&f.body));
                self.scopes.pop();
                body?;
                self.stmts(&f.else_body)
            }
            Stmt::FilterBlock(b) => {
                // The block's text is bounded by the output cap; the filter
                // applied to it must be one whose growth is known.
                self.expr(&b.filter)?;
                self.stmts(&b.body)
            }
            Stmt::Set(s) => refuse(s.span().start_line, format!("`set`: {NOT_ALLOWED}")),
            Stmt::SetBlock(s) => refuse(s.span().start_line, format!("`set`: {NOT_ALLOWED}")),
            Stmt::WithBlock(s) => refuse(s.span().start_line, format!("`with`: {NOT_ALLOWED}")),
            Stmt::Macro(s) => refuse(s.span().start_line, format!("`macro`: {NOT_ALLOWED}")),
            Stmt::CallBlock(s) => refuse(s.span().start_line, format!("`call`: {NOT_ALLOWED}")),
            Stmt::Import(s) => refuse(s.span().start_line, format!("`import`: {NOT_ALLOWED}")),
            Stmt::FromImport(s) => refuse(s.span().start_line, format!("`from`: {NOT_ALLOWED}")),
            Stmt::Extends(s) => refuse(s.span().start_line, format!("`extends`: {NOT_ALLOWED}")),
            Stmt::Include(s) => refuse(s.span().start_line, format!("`include`: {NOT_ALLOWED}")),
            Stmt::Block(s) => refuse(s.span().start_line, format!("`block`: {NOT_ALLOWED}")),
            Stmt::AutoEscape(s) => refuse(
                s.span().start_line,
                "`autoescape` is not allowed in post templates",
            ),
            Stmt::Do(s) => refuse(s.span().start_line, format!("`do`: {NOT_ALLOWED}")),
        }
    }

    /// The expression's bound, refused past `MAX_VALUE`.
    fn bounded(&mut self, expr: &'a Expr<'a>, line: u16) -> Result<u64, Refusal> {
        let bound = self.expr(expr)?;
        if bound > MAX_VALUE {
            return refuse(
                line,
                format!(
                    "an expression could grow to {} MB (at most {} MB): too many filters or joins of one value",
                    bound / (1024 * 1024),
                    MAX_VALUE / (1024 * 1024)
                ),
            );
        }
        Ok(bound)
    }

    /// An upper bound of the expression's size in bytes.
    fn expr(&mut self, expr: &'a Expr<'a>) -> Result<u64, Refusal> {
        const SMALL: u64 = 64;
        Ok(match expr {
            Expr::Var(v) => match self.scopes.iter().rev().flatten().find(|(n, _)| *n == v.id) {
                Some((_, bound)) => *bound,
                // `loop` is the loop's own helper, inside a loop.
                None if v.id == "loop" && !self.scopes.is_empty() => SMALL,
                None if self.fields.iter().any(|f| f == v.id) => MAX_FIELD,
                None => {
                    let nearest = self
                        .fields
                        .iter()
                        .map(|f| (strsim::damerau_levenshtein(f, v.id), f))
                        .min()
                        .filter(|(d, _)| *d <= 3)
                        .map(|(_, f)| format!(" (did you mean `{f}`?)"))
                        .unwrap_or_default();
                    return refuse(
                        v.span().start_line,
                        format!(
                            "unknown variable `{}`{nearest}; a post template may use {}",
                            v.id,
                            self.fields.join(", ")
                        ),
                    );
                }
            },
            Expr::Const(c) => c.value.as_str().map_or(SMALL, |s| s.len() as u64),
            Expr::Slice(s) => {
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part)?;
                }
                self.expr(&s.expr)?
            }
            Expr::UnaryOp(u) => self.expr(&u.expr)?.saturating_add(SMALL),
            Expr::BinOp(b) => {
                let line = b.span().start_line;
                let (left, right) = (self.expr(&b.left)?, self.expr(&b.right)?);
                match b.op {
                    BinOpKind::Mul | BinOpKind::Pow => {
                        return refuse(
                            line,
                            "`*` and `**` are not allowed in post templates (they repeat a value without bound)",
                        );
                    }
                    BinOpKind::Add | BinOpKind::Concat => left.saturating_add(right),
                    _ => left.max(right).saturating_add(SMALL),
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr)?;
                for op in &c.ops {
                    self.expr(&op.expr)?;
                }
                SMALL
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr)?;
                let t = self.expr(&i.true_expr)?;
                let f = match &i.false_expr {
                    Some(e) => self.expr(e)?,
                    None => 0,
                };
                t.max(f)
            }
            Expr::Test(t) => {
                self.expr(&t.expr)?;
                self.args(&t.args)?;
                SMALL
            }
            Expr::GetAttr(g) => self.expr(&g.expr)?,
            Expr::GetItem(g) => {
                self.expr(&g.subscript_expr)?;
                self.expr(&g.expr)?
            }
            Expr::List(l) => {
                let mut sum = SMALL;
                for item in &l.items {
                    sum = sum.saturating_add(self.expr(item)?);
                }
                sum
            }
            Expr::Map(m) => {
                let mut sum = SMALL;
                for e in m.keys.iter().chain(&m.values) {
                    sum = sum.saturating_add(self.expr(e)?);
                }
                sum
            }
            Expr::Call(c) => {
                return refuse(c.span().start_line, format!("a call: {NOT_ALLOWED}"));
            }
            Expr::Filter(f) => {
                let line = f.span().start_line;
                let input = match &f.expr {
                    Some(e) => self.expr(e)?,
                    None => 0,
                };
                let args = self.args(&f.args)?;
                let arg = |i: usize| args.get(i).copied().unwrap_or(0);
                let grown = match f.name {
                    "safe" | "trim" | "reverse" | "first" | "last" | "sort" | "unique" | "list"
                    | "split" | "lines" | "attr" | "items" | "dictsort" | "batch" | "slice"
                    | "select" | "reject" | "groupby" | "min" | "max" => {
                        input.saturating_add(SMALL)
                    }
                    "length" | "count" | "round" | "abs" | "int" | "float" | "bool" | "sum" => {
                        SMALL
                    }
                    "lower" | "upper" | "title" | "urlencode" | "hashtags" => {
                        input.saturating_mul(3).saturating_add(SMALL)
                    }
                    "escape" | "e" | "tojson" | "pprint" | "string" => {
                        input.saturating_mul(6).saturating_add(SMALL)
                    }
                    "default" | "d" => input.max(arg(0)),
                    // Each byte may be replaced by `new`.
                    "replace" => input.saturating_mul(arg(1).max(1)).saturating_add(arg(1)),
                    // Between any two bytes, `sep`.
                    "join" => input.saturating_mul(arg(0).saturating_add(1)),
                    "chain" | "zip" => args.iter().fold(input, |a, b| a.saturating_add(*b)),
                    "map"
                        if f.args
                            .iter()
                            .all(|a| matches!(a, CallArg::Kwarg("attribute", _))) =>
                    {
                        input
                    }
                    "indent" => {
                        let width = const_width(&f.args).ok_or(Refusal {
                            line: usize::from(line),
                            message:
                                "`indent` takes a constant width of at most 100 in post templates"
                                    .to_string(),
                        })?;
                        input.saturating_mul(width.saturating_add(1))
                    }
                    other => {
                        return refuse(
                            line,
                            format!(
                                "the filter `{other}` is not available in post templates (their every value must have a size known in advance)"
                            ),
                        );
                    }
                };
                if grown > MAX_VALUE {
                    return refuse(
                        line,
                        format!(
                            "`{}` could make a value of {} MB (at most {} MB)",
                            f.name,
                            grown / (1024 * 1024),
                            MAX_VALUE / (1024 * 1024)
                        ),
                    );
                }
                grown
            }
        })
    }

    fn args(&mut self, args: &'a [CallArg<'a>]) -> Result<Vec<u64>, Refusal> {
        args.iter()
            .map(|a| match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => self.expr(e),
            })
            .collect()
    }
}

/// `indent`'s width when it is a constant of at most 100 (the default, 4,
/// when not given).
fn const_width(args: &[CallArg<'_>]) -> Option<u64> {
    let width = match args.first() {
        None => return Some(4),
        Some(CallArg::Pos(Expr::Const(c))) | Some(CallArg::Kwarg("width", Expr::Const(c))) => {
            c.value.as_usize()
        }
        Some(_) => None,
    }?;
    (width <= 100).then_some(width as u64)
}

fn collect_names<'a>(target: &'a Expr<'a>, out: &mut Vec<&'a str>) {
    match target {
        Expr::Var(v) => out.push(v.id),
        Expr::List(l) => l.items.iter().for_each(|i| collect_names(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_post_templates_pass() {
        for t in [
            super::super::DEFAULT_TEMPLATE,
            crate::social::CARD_TEMPLATE,
            "{{ title|upper }} {% for t in tags %}#{{ t|lower|replace(' ', '') }} {% endfor %}{{ url }}",
            "{{ summary|e }}{% if cta %}\n{{ cta }}{% else %}{{ site }}{% endif %} {{ tags|hashtags }}",
            "{{ title ~ ' | ' ~ site }}\n{{ tags|join(', ') }}\n{{ summary|indent(2) }}",
            "{% for t in tags if t != 'x' %}{{ loop.index }}. {{ t }}{% endfor %}",
        ] {
            assert_eq!(check(t), Ok(()), "{t}");
        }
    }

    /// A typo in a variable is an error naming the nearest field, not a
    /// post without its title.
    #[test]
    fn an_unknown_variable_is_refused_with_the_nearest_name() {
        let e = check("{{ titel }}\n{{ url }}").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.message
                .contains("unknown variable `titel` (did you mean `title`?)"),
            "{e}"
        );
        let e = check("{% for t in tags %}{{ t }}{% endfor %}\n{{ tt }}").unwrap_err();
        assert_eq!(e.line, 2);
        // `loop` only inside a loop.
        assert!(check("{{ loop.index }}").is_err());
    }

    #[test]
    fn templates_that_could_grow_without_bound_are_refused_with_their_line() {
        let doubling: String = (0..30).map(|_| "{% set s = s ~ s %}").collect();
        let chain = format!("{{{{ title{} }}}}", "|e".repeat(12));
        let replaced = format!("{{{{ title{} }}}}", "|replace('a', 'aaaaaaaaaa')".repeat(8));
        let cases: Vec<(String, &str)> = vec![
            (doubling, "`set`"),
            (
                "{% macro d(s) %}{{ d(s ~ s) }}{% endmacro %}{{ d(title) }}".into(),
                "`macro`",
            ),
            ("{{ 'x' * 100000000 }}".into(), "`*`"),
            ("{{ title }}\n{{ range(10) }}".into(), "line 2: a call"),
            (chain, "could"),
            (replaced, "could"),
            ("{{ title|format(1) }}".into(), "`format` is not available"),
            ("{{ title|indent(100000) }}".into(), "constant width"),
            ("{% with a = title %}{{ a }}{% endwith %}".into(), "`with`"),
            ("{% include 'x' %}".into(), "`include`"),
            ("x".repeat(MAX_SOURCE + 1), "at most 4096"),
        ];
        for (source, needle) in cases {
            let refusal = check(&source).expect_err(&source[..source.len().min(60)]);
            assert!(refusal.to_string().contains(needle), "{needle}: {refusal}");
        }
    }
}
