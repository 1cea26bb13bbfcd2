//! Calico's selector language.
//!
//! A hand-written recursive-descent parser for the selector strings found in
//! Calico `NetworkPolicy`, `GlobalNetworkPolicy` and network-set resources.
//! Every label it reads is looked up in [`crate::Scope::Calico`].
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! selector := ws* ( or ws* )?              empty selector = all()
//! or       := and ( "||" and )*
//! and      := unary ( "&&" unary )*
//! unary    := "!"* atom                     a run of "!" collapses by parity
//! atom     := "(" or ")"
//!           | "all(" ws* ")" | "global(" ws* ")" | "has(" ws* label ws* ")"
//!           | label "==" str | label "!=" str
//!           | label "contains" str
//!           | label "starts" ws* "with" str | label "ends" ws* "with" str
//!           | label "in" set | label "not" ws* "in" set
//! set      := "{" ( str ( "," str )* ","? )? "}"
//! label    := [A-Za-z0-9_./-]{1,512}
//! str      := "'" [^']* "'" | '"' [^"]* '"'   no escapes
//! ws       := " " | "\t"
//! ```
//!
//! Whitespace (spaces and tabs only, as in Calico) may appear between any two
//! tokens. `has(`, `all(` and `global(` are single tokens: no space before the
//! parenthesis. The word operators (`contains`, `in`, `not in`, …) must not be
//! followed directly by a label character. Because a label is read first
//! wherever an expression may start, the operator words are also valid label
//! names (`in in {'a'}` tests the label `in`).
//!
//! These details follow Calico's own tokenizer and parser (libcalico-go), which
//! also accepts `startswith`, `endswith` and `notin` written as one word, and a
//! trailing comma inside a non-empty set.
//!
//! The result is compact: nested `&&` and `||` are flattened into one
//! [`Expr::And`] / [`Expr::Or`], `!` becomes [`Expr::Not`] with double negation
//! removed, and `all()` is kept where it was written (a later rewrite of a
//! `namespaceSelector` gives it a meaning of its own).
//!
//! ```
//! use podwall_selector::{parse, Expr, Label};
//! let e = parse("app == 'web' && !has(canary)").unwrap();
//! assert_eq!(
//!     e,
//!     Expr::And(vec![
//!         Expr::Eq(Label::calico("app"), "web".into()),
//!         Expr::Not(Box::new(Expr::Has(Label::calico("canary")))),
//!     ])
//! );
//! assert!(parse("app = 'web'").is_err());
//! ```
use std::collections::BTreeSet;

use crate::{Expr, Label};

/// Longest label name Calico accepts, in bytes.
const MAX_LABEL_LEN: usize = 512;

/// Deepest parenthesis nesting accepted; keeps the recursion off the end of
/// the stack on hostile input. Real selectors nest a handful of levels.
const MAX_NESTING: usize = 100;

/// A selector that could not be parsed, with the byte offset where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct ParseError {
    /// Byte offset into the input.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a Calico selector; labels are read in [`crate::Scope::Calico`].
///
/// An empty selector, or one made only of spaces and tabs, is [`Expr::All`].
/// See the [module documentation](self) for the grammar.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { src: input, pos: 0, depth: 0 };
    p.skip_ws();
    if p.at_end() {
        return Ok(Expr::All);
    }
    let e = p.or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.after_operand_error(None));
    }
    Ok(e)
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b'-')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn err(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError { position, message: message.into() }
    }

    /// Names the token at the current position, for "found …" in messages.
    fn describe(&self) -> String {
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return "the end of the selector".to_string();
        };
        for op in ["&&", "||", "==", "!="] {
            if rest.starts_with(op) {
                return format!("'{op}'");
            }
        }
        match c {
            '\'' | '"' => "a quoted string".to_string(),
            '\n' | '\r' => "a line break (Calico allows only spaces and tabs between tokens)".to_string(),
            c if c.is_ascii() && is_label_byte(c as u8) => {
                let word: String = rest.bytes().take_while(|&b| is_label_byte(b)).map(char::from).collect();
                format!("'{word}'")
            }
            c => format!("{c:?}"),
        }
    }

    /// The error for something that cannot follow a complete operand: at the
    /// top level (`open` is `None`) or inside parentheses opened at `open`.
    fn after_operand_error(&self, open: Option<usize>) -> ParseError {
        let rest = self.rest();
        if rest.starts_with('&') && !rest.starts_with("&&") {
            return self.err(self.pos, "expected '&&', found a single '&'");
        }
        if rest.starts_with('|') && !rest.starts_with("||") {
            return self.err(self.pos, "expected '||', found a single '|'");
        }
        match open {
            None if rest.starts_with(')') => self.err(self.pos, "unmatched ')'"),
            None => {
                self.err(self.pos, format!("expected '&&', '||' or the end of the selector, found {}", self.describe()))
            }
            Some(open) if self.at_end() => self.err(self.pos, format!("unclosed parenthesis opened at {open}")),
            Some(open) => self.err(
                self.pos,
                format!("expected ')' to close the parenthesis opened at {open}, found {}", self.describe()),
            ),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        loop {
            self.skip_ws();
            if !self.rest().starts_with("||") {
                break;
            }
            self.pos += 2;
            parts.push(self.and()?);
        }
        Ok(join(parts, false))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            self.skip_ws();
            if !self.rest().starts_with("&&") {
                break;
            }
            self.pos += 2;
            parts.push(self.unary()?);
        }
        Ok(join(parts, true))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let mut negate = false;
        loop {
            self.skip_ws();
            // "!=" is always the inequality operator, never a negation.
            if self.peek() == Some(b'!') && self.peek_at(1) != Some(b'=') {
                negate = !negate;
                self.pos += 1;
            } else {
                break;
            }
        }
        let e = self.atom()?;
        Ok(if negate { Expr::not(e) } else { e })
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'(') => {
                if self.depth >= MAX_NESTING {
                    return Err(self.err(start, format!("parentheses nested more than {MAX_NESTING} deep")));
                }
                self.pos += 1;
                self.depth += 1;
                let e = self.or()?;
                self.depth -= 1;
                self.skip_ws();
                if self.peek() != Some(b')') {
                    return Err(self.after_operand_error(Some(start)));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(b) if is_label_byte(b) => {
                if self.rest().starts_with("has(") {
                    self.pos += "has(".len();
                    self.skip_ws();
                    if !self.peek().is_some_and(is_label_byte) {
                        return Err(self
                            .err(self.pos, format!("expected a label name inside 'has(', found {}", self.describe())));
                    }
                    let key = self.label()?;
                    self.close_call("has(")?;
                    Ok(Expr::Has(Label::calico(&key)))
                } else if self.rest().starts_with("all(") {
                    self.pos += "all(".len();
                    self.close_call("all(")?;
                    Ok(Expr::All)
                } else if self.rest().starts_with("global(") {
                    self.pos += "global(".len();
                    self.close_call("global(")?;
                    Ok(Expr::Global)
                } else {
                    self.comparison()
                }
            }
            _ => Err(self.err(start, format!("expected an expression, found {}", self.describe()))),
        }
    }

    /// Skips spaces and the `)` that ends `has(…)`, `all(` or `global(`.
    fn close_call(&mut self, call: &str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(self.pos, format!("expected ')' to close '{call}', found {}", self.describe())))
        }
    }

    /// Reads a label name starting at the current position (which holds a label character).
    fn label(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(is_label_byte) {
            self.pos += 1;
        }
        let key = &self.src[start..self.pos];
        if key.len() > MAX_LABEL_LEN {
            return Err(
                self.err(start, format!("label is {} bytes long; Calico allows at most {MAX_LABEL_LEN}", key.len()))
            );
        }
        // A character glued to the label that cannot start any token is a bad label character.
        if let Some(c) = self.rest().chars().next() {
            let starts_token = matches!(
                c,
                ' ' | '\t'
                    | '\n'
                    | '\r'
                    | '='
                    | '!'
                    | '<'
                    | '>'
                    | '~'
                    | '('
                    | ')'
                    | '{'
                    | '}'
                    | ','
                    | '&'
                    | '|'
                    | '\''
                    | '"'
            );
            if !starts_token {
                return Err(self.err(
                    self.pos,
                    format!(
                        "invalid character {c:?} in label '{key}': labels may only contain letters, digits, '_', '.', '/' and '-'"
                    ),
                ));
            }
        }
        Ok(key.to_string())
    }

    /// Consumes the words of an operator (spaces and tabs allowed between them)
    /// if they are next and not followed by a label character.
    fn keyword(&mut self, words: &[&str]) -> bool {
        let saved = self.pos;
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                self.skip_ws();
            }
            if !self.rest().starts_with(word) {
                self.pos = saved;
                return false;
            }
            self.pos += word.len();
        }
        if self.peek().is_some_and(is_label_byte) {
            self.pos = saved;
            return false;
        }
        true
    }

    /// `label op value`, the current position being at the label.
    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let key = self.label()?;
        let label = Label::calico(&key);
        self.skip_ws();
        let op_pos = self.pos;
        let rest = self.rest();
        if rest.starts_with("==") {
            self.pos += 2;
            return Ok(Expr::Eq(label, self.string("'=='")?));
        }
        if rest.starts_with("!=") {
            self.pos += 2;
            return Ok(Expr::Ne(label, self.string("'!='")?));
        }
        if rest.starts_with('=') {
            return Err(self.err(op_pos, "expected '==', found a single '='"));
        }
        if self.keyword(&["contains"]) {
            return Ok(Expr::Contains(label, self.string("'contains'")?));
        }
        if self.keyword(&["starts", "with"]) {
            return Ok(Expr::StartsWith(label, self.string("'starts with'")?));
        }
        if self.keyword(&["ends", "with"]) {
            return Ok(Expr::EndsWith(label, self.string("'ends with'")?));
        }
        if self.keyword(&["not", "in"]) {
            return Ok(Expr::NotIn(label, self.set("'not in'")?));
        }
        if self.keyword(&["in"]) {
            return Ok(Expr::In(label, self.set("'in'")?));
        }
        if self.peek() == Some(b'(') {
            let message = if matches!(key.as_str(), "has" | "all" | "global") {
                format!("no space is allowed between '{key}' and '('")
            } else {
                format!("unknown function '{key}(': only has(), all() and global() exist")
            };
            return Err(self.err(op_pos, message));
        }
        Err(self.err(
            op_pos,
            format!(
                "expected an operator (==, !=, in, not in, contains, starts with, ends with) after label '{key}', found {}",
                self.describe()
            ),
        ))
    }

    /// A quoted string after the operator named `after`.
    fn string(&mut self, after: &str) -> Result<String, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'\'' | b'"') => self.string_literal(),
            _ => Err(self.err(self.pos, format!("expected a quoted string after {after}, found {}", self.describe()))),
        }
    }

    /// The quoted string at the current position (which holds a quote).
    fn string_literal(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        let quote = char::from(self.src.as_bytes()[open]);
        let body = open + 1;
        match self.src[body..].find(quote) {
            Some(len) => {
                self.pos = body + len + 1;
                Ok(self.src[body..body + len].to_string())
            }
            None => Err(self.err(open, format!("unterminated string: no closing {quote} after the one at {open}"))),
        }
    }

    /// A `{…}` set of quoted strings after the operator named `after`.
    fn set(&mut self, after: &str) -> Result<BTreeSet<String>, ParseError> {
        self.skip_ws();
        let open = self.pos;
        if self.peek() != Some(b'{') {
            return Err(self.err(open, format!("expected '{{' after {after}, found {}", self.describe())));
        }
        self.pos += 1;
        let mut values = BTreeSet::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(values);
                }
                Some(b'\'' | b'"') => {
                    values.insert(self.string_literal()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(values);
                        }
                        None => return Err(self.err(self.pos, format!("unclosed '{{' opened at {open}"))),
                        Some(_) => {
                            return Err(self.err(
                                self.pos,
                                format!("expected ',' or '}}' in the set opened at {open}, found {}", self.describe()),
                            ))
                        }
                    }
                }
                None => return Err(self.err(self.pos, format!("unclosed '{{' opened at {open}"))),
                Some(_) => {
                    return Err(self.err(
                        self.pos,
                        format!(
                            "expected a quoted string or '}}' in the set opened at {open}, found {}",
                            self.describe()
                        ),
                    ))
                }
            }
        }
    }
}

/// Joins operands with `&&` (`and`) or `||`, flattening nested operators of the
/// same kind. `all()` operands are kept.
fn join(parts: Vec<Expr>, and: bool) -> Expr {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Expr::And(inner) if and => out.extend(inner),
            Expr::Or(inner) if !and => out.extend(inner),
            other => out.push(other),
        }
    }
    if out.len() == 1 {
        out.pop().unwrap_or(Expr::All)
    } else if and {
        Expr::And(out)
    } else {
        Expr::Or(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, Scope};
    use std::collections::BTreeMap;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Parses `sel` (which must be valid) and evaluates it on `kv`.
    fn eval(sel: &str, kv: &[(&str, &str)]) -> bool {
        let e = parse(sel).unwrap_or_else(|err| panic!("{sel:?} should parse: {err}"));
        e.matches(&Labels(&labels(kv)))
    }

    /// Parses `sel`, which must be invalid, and returns the error.
    fn error(sel: &str) -> ParseError {
        match parse(sel) {
            Ok(e) => panic!("{sel:?} should not parse, got {e:?}"),
            Err(err) => err,
        }
    }

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert_eq!(parse("").unwrap(), Expr::All);
        assert_eq!(parse(" \t  ").unwrap(), Expr::All);
        assert!(eval("", &[]));
        assert!(eval("   ", &[("app", "web")]));
    }

    #[test]
    fn all_and_global_are_true_on_their_own() {
        assert_eq!(parse("all()").unwrap(), Expr::All);
        assert_eq!(parse("global()").unwrap(), Expr::Global);
        assert!(eval("all()", &[]));
        assert!(eval("global()", &[("x", "y")]));
        assert!(eval("all( \t)", &[]));
        assert!(eval("global(  )", &[]));
        assert!(!eval("!all()", &[]));
    }

    #[test]
    fn labels_are_read_in_calico_scope() {
        assert_eq!(
            parse("projectcalico.org/namespace == 'prod'").unwrap(),
            Expr::Eq(Label { scope: Scope::Calico, key: "projectcalico.org/namespace".into() }, "prod".into())
        );
        assert_eq!(parse("has(pcns.team)").unwrap(), Expr::Has(Label::calico("pcns.team")));
    }

    #[test]
    fn equality_needs_the_label_with_that_exact_value() {
        assert!(eval("app == 'web'", &[("app", "web")]));
        assert!(!eval("app == 'web'", &[("app", "web2")]));
        assert!(!eval("app == 'web'", &[("tier", "web")]));
        assert!(eval("app == ''", &[("app", "")]));
        assert!(!eval("app == ''", &[]));
    }

    #[test]
    fn missing_label_not_equal_is_true() {
        assert!(eval("app != 'web'", &[]));
        assert!(eval("app != 'web'", &[("app", "db")]));
        assert!(!eval("app != 'web'", &[("app", "web")]));
    }

    #[test]
    fn missing_label_not_in_is_true() {
        assert!(eval("app not in {'web'}", &[]));
        assert!(eval("app not in {'web', 'db'}", &[("app", "cache")]));
        assert!(!eval("app not in {'web', 'db'}", &[("app", "db")]));
    }

    #[test]
    fn missing_label_positive_operators_are_false() {
        for sel in
            ["app == 'x'", "app in {'x'}", "has(app)", "app contains ''", "app starts with ''", "app ends with ''"]
        {
            assert!(!eval(sel, &[("other", "x")]), "{sel}");
        }
    }

    #[test]
    fn has_matches_any_value_including_empty() {
        assert!(eval("has(app)", &[("app", "")]));
        assert!(eval("has(app)", &[("app", "web")]));
        assert!(eval("has( \tapp  )", &[("app", "web")]));
        assert!(!eval("has(app)", &[("application", "web")]));
    }

    #[test]
    fn in_tests_set_membership() {
        let sel = "tier in {'web', \"db\"}";
        assert!(eval(sel, &[("tier", "web")]));
        assert!(eval(sel, &[("tier", "db")]));
        assert!(!eval(sel, &[("tier", "cache")]));
        assert_eq!(parse(sel).unwrap(), Expr::In(Label::calico("tier"), set(&["web", "db"])));
    }

    #[test]
    fn empty_set_in_is_false_and_not_in_is_true() {
        assert!(!eval("a in {}", &[("a", "x")]));
        assert!(eval("a not in {}", &[("a", "x")]));
        assert!(eval("a not in { \t}", &[]));
    }

    #[test]
    fn trailing_comma_in_a_set_is_allowed() {
        assert_eq!(parse("a in {'x', }").unwrap(), Expr::In(Label::calico("a"), set(&["x"])));
        assert!(eval("a in {'x','y',}", &[("a", "y")]));
        assert_eq!(error("a in {,}").position, 6);
        assert_eq!(error("a in {'x',,}").position, 10);
    }

    #[test]
    fn notin_may_be_written_as_one_word_or_with_extra_spaces() {
        assert!(eval("a notin {'x'}", &[("a", "y")]));
        assert!(!eval("a notin{'x'}", &[("a", "x")]));
        assert!(!eval("a not \t in {'x'}", &[("a", "x")]));
    }

    #[test]
    fn contains_starts_with_and_ends_with_match_substrings() {
        let kv = [("image", "registry.local/team/app:v2")];
        assert!(eval("image contains 'team'", &kv));
        assert!(!eval("image contains 'other'", &kv));
        assert!(eval("image starts with 'registry.'", &kv));
        assert!(!eval("image starts with 'team'", &kv));
        assert!(eval("image ends with ':v2'", &kv));
        assert!(!eval("image ends with ':v1'", &kv));
        assert!(eval("image contains''", &kv));
    }

    #[test]
    fn startswith_and_endswith_may_be_written_as_one_word() {
        assert!(eval("a startswith 'we'", &[("a", "web")]));
        assert!(eval("a endswith 'eb'", &[("a", "web")]));
        assert!(eval("a starts   with 'we'", &[("a", "web")]));
        assert!(eval("a ends\twith'eb'", &[("a", "web")]));
    }

    #[test]
    fn operator_words_are_valid_label_names() {
        assert!(eval("contains contains 'contains'", &[("contains", "xcontainsx")]));
        assert!(eval("in in {'a'}", &[("in", "a")]));
        assert!(eval("has == 'x' && all == 'y'", &[("has", "x"), ("all", "y")]));
        assert!(eval("not not in {'a'}", &[("not", "b")]));
        assert!(eval("startswith starts with 'v'", &[("startswith", "v1")]));
        assert!(eval("global != 'x'", &[]));
    }

    #[test]
    fn operator_words_must_end_at_a_word_boundary() {
        // "inside" is not "in" followed by "side".
        let err = error("a inside {'x'}");
        assert_eq!(err.position, 2);
        assert!(err.message.starts_with("expected an operator"), "{}", err.message);
        assert_eq!(error("a containsx 'y'").position, 2);
        assert_eq!(error("a startswithx 'y'").position, 2);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // a || (b && c), not (a || b) && c.
        let sel = "a == '1' || b == '1' && c == '1'";
        assert!(eval(sel, &[("a", "1")]));
        assert!(!eval(sel, &[("b", "1")]));
        assert!(eval(sel, &[("b", "1"), ("c", "1")]));
        let sel = "a == '1' && b == '1' || c == '1'";
        assert!(eval(sel, &[("c", "1")]));
        assert!(!eval(sel, &[("a", "1")]));
    }

    #[test]
    fn parentheses_override_precedence() {
        let sel = "(a == '1' || b == '1') && c == '1'";
        assert!(!eval(sel, &[("a", "1")]));
        assert!(eval(sel, &[("a", "1"), ("c", "1")]));
        assert!(eval("((((has(a)))))", &[("a", "")]));
    }

    #[test]
    fn not_applies_to_single_atom() {
        // !a == 'x' && b == 'y'  means  (!(a == 'x')) && (b == 'y').
        let sel = "!a == 'x' && b == 'y'";
        assert!(eval(sel, &[("b", "y")]));
        assert!(!eval(sel, &[("a", "x"), ("b", "y")]));
        assert!(!eval(sel, &[]));
        // With parentheses the negation covers the whole group.
        let sel = "!(a == 'x' && b == 'y')";
        assert!(eval(sel, &[]));
        assert!(!eval(sel, &[("a", "x"), ("b", "y")]));
    }

    #[test]
    fn runs_of_not_collapse_by_parity() {
        assert_eq!(parse("!!has(a)").unwrap(), Expr::Has(Label::calico("a")));
        assert_eq!(parse("! ! !has(a)").unwrap(), Expr::not(Expr::Has(Label::calico("a"))));
        assert_eq!(parse("!(!has(a))").unwrap(), Expr::Has(Label::calico("a")));
        assert!(eval("!!!!has(a)", &[("a", "")]));
        assert!(!eval("!!!has(a)", &[("a", "")]));
        assert!(eval("!has(a)", &[]));
    }

    #[test]
    fn not_equal_is_never_read_as_negation() {
        assert!(eval("a!='x'", &[]));
        let err = error("!= 'x'");
        assert_eq!(err.position, 0);
        assert!(err.message.contains("'!='"), "{}", err.message);
    }

    #[test]
    fn and_and_or_operands_are_flattened() {
        let (a, b, c, d) = ["a", "b", "c", "d"].map(|k| Expr::Has(Label::calico(k))).into();
        assert_eq!(
            parse("has(a) && (has(b) && (has(c))) && has(d)").unwrap(),
            Expr::And(vec![a.clone(), b.clone(), c.clone(), d.clone()])
        );
        assert_eq!(
            parse("(has(a) || has(b)) || has(c) && has(d)").unwrap(),
            Expr::Or(vec![a, b, Expr::And(vec![c, d])])
        );
    }

    #[test]
    fn all_is_kept_inside_conjunctions() {
        assert_eq!(parse("all() && has(a)").unwrap(), Expr::And(vec![Expr::All, Expr::Has(Label::calico("a"))]));
        assert!(eval("all() && has(a)", &[("a", "")]));
        assert!(eval("has(a) || all()", &[]));
    }

    #[test]
    fn double_quotes_and_single_quotes() {
        assert!(eval("a == \"x\"", &[("a", "x")]));
        assert!(eval("a == 'x'", &[("a", "x")]));
        // Each quote kind may hold the other one.
        assert!(eval("a == \"it's\"", &[("a", "it's")]));
        assert!(eval("a == 'say \"hi\"'", &[("a", "say \"hi\"")]));
        // Anything but the closing quote is literal text: no escapes, spaces kept.
        assert!(eval(r"a == 'x\'", &[("a", r"x\")]));
        assert!(eval("a == ' && b == (x) '", &[("a", " && b == (x) ")]));
        assert!(eval("a == 'é€'", &[("a", "é€")]));
    }

    #[test]
    fn spaces_and_tabs_are_insignificant_between_tokens() {
        let kv = [("a", "x"), ("b", "y")];
        let tight = "a=='x'&&!has(c)||(b in{'y'})";
        let loose = " \t a \t == \t 'x' \t && \t ! \t has( c ) || ( b in { 'y' } ) \t ";
        assert_eq!(parse(tight).unwrap(), parse(loose).unwrap());
        assert!(eval(tight, &kv));
    }

    #[test]
    fn line_breaks_are_rejected_like_calico_does() {
        let err = error("a == 'x' &&\nb == 'y'");
        assert_eq!(err.position, 11);
        assert!(err.message.contains("line break"), "{}", err.message);
        assert_eq!(error("a == 'x'\n").position, 8);
        // Inside a string a line break is just text.
        assert!(eval("a == 'x\ny'", &[("a", "x\ny")]));
    }

    #[test]
    fn label_names_use_letters_digits_and_punctuation() {
        assert!(eval("calico/k8s_NS-.1/role == 'x'", &[("calico/k8s_NS-.1/role", "x")]));
        assert!(eval("8ball == 'x'", &[("8ball", "x")]));
        assert!(eval("-.-/_ == 'x'", &[("-.-/_", "x")]));
        assert!(eval("k8s-app in {'kube-dns'}", &[("k8s-app", "kube-dns")]));
    }

    #[test]
    fn bad_label_character_is_rejected_where_it_is() {
        let err = error("app:tier == 'x'");
        assert_eq!(err.position, 3);
        assert!(err.message.contains("invalid character ':' in label 'app'"), "{}", err.message);
        assert_eq!(error("has(a@b)").position, 5);
        assert_eq!(error("aé == 'x'").position, 1);
        assert_eq!(error("é == 'x'").position, 0);
        assert_eq!(error("a == 'x' && *b == 'y'").position, 12);
    }

    #[test]
    fn labels_longer_than_512_bytes_are_rejected() {
        let ok = "k".repeat(512);
        assert!(eval(&format!("has({ok})"), &[(ok.as_str(), "")]));
        let long = "k".repeat(513);
        let err = error(&format!("a == 'x' || {long} == 'y'"));
        assert_eq!(err.position, 12);
        assert!(err.message.contains("513"), "{}", err.message);
        assert_eq!(error(&format!("has({long})")).position, 4);
    }

    #[test]
    fn unknown_operators_are_rejected() {
        for (sel, pos, needle) in [
            ("a = 'x'", 2, "single '='"),
            ("a =~ 'x'", 2, "single '='"),
            ("a < 'x'", 2, "expected an operator"),
            ("a is 'x'", 2, "expected an operator"),
            ("a", 1, "the end of the selector"),
            ("a == 'x' & b == 'y'", 9, "single '&'"),
            ("a == 'x' | b == 'y'", 9, "single '|'"),
            ("(a == 'x' | b == 'y')", 10, "single '|'"),
            ("a == 'x' and b == 'y'", 9, "expected '&&', '||'"),
            ("a starts 'x'", 2, "expected an operator"),
            ("a not 'x'", 2, "expected an operator"),
        ] {
            let err = error(sel);
            assert_eq!(err.position, pos, "{sel}: {err}");
            assert!(err.message.contains(needle), "{sel}: {err}");
        }
    }

    #[test]
    fn functions_need_their_parenthesis_directly_after_the_name() {
        let err = error("has (a)");
        assert_eq!(err.position, 4);
        assert!(err.message.contains("no space"), "{}", err.message);
        assert_eq!(error("all ()").position, 4);
        assert!(error("exists(a)").message.contains("unknown function 'exists('"));
        assert_eq!(error("has()").position, 4);
        assert_eq!(error("has(a b)").position, 6);
        assert_eq!(error("all(x)").position, 4);
        assert_eq!(error("global(").position, 7);
    }

    #[test]
    fn operators_need_a_quoted_string_or_set() {
        let err = error("a == x");
        assert_eq!(err.position, 5);
        assert!(err.message.starts_with("expected a quoted string after '=='"), "{}", err.message);
        assert!(error("a != ").message.starts_with("expected a quoted string after '!='"));
        assert!(error("a contains {'x'}").message.starts_with("expected a quoted string after 'contains'"));
        assert!(error("a starts with x").message.starts_with("expected a quoted string after 'starts with'"));
        assert!(error("a ends with").message.starts_with("expected a quoted string after 'ends with'"));
        let err = error("a in 'x'");
        assert_eq!(err.position, 5);
        assert!(err.message.starts_with("expected '{' after 'in'"), "{}", err.message);
        assert!(error("a not in ('x')").message.starts_with("expected '{' after 'not in'"));
        assert!(error("a in {x}").message.starts_with("expected a quoted string or '}'"));
        assert!(error("a in {'x' 'y'}").message.starts_with("expected ',' or '}'"));
        let err = error("a in {'x', ");
        assert_eq!((err.position, err.message.as_str()), (11, "unclosed '{' opened at 5"));
    }

    #[test]
    fn unterminated_string_points_at_its_opening_quote() {
        let err = error("a == 'x' && b == \"y");
        assert_eq!(err.position, 17);
        assert!(err.message.starts_with("unterminated string"), "{}", err.message);
        // A quote of the other kind does not close it.
        assert_eq!(error("a == 'x\"").position, 5);
        assert_eq!(error("a in {'x', 'y}").position, 11);
    }

    #[test]
    fn unclosed_parenthesis_names_where_it_opened() {
        let sel = "a == 'x' && (b == 'y' || c == 'z'";
        let err = error(sel);
        assert_eq!(err.message, "unclosed parenthesis opened at 12");
        assert_eq!(err.position, sel.len());
        let err = error("!(has(a) has(b))");
        assert_eq!(err.position, 9);
        assert!(err.message.starts_with("expected ')' to close the parenthesis opened at 1"), "{}", err.message);
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        let err = error("has(a))");
        assert_eq!((err.position, err.message.as_str()), (6, "unmatched ')'"));
        let err = error("a == 'x' b == 'y'");
        assert_eq!(err.position, 9);
        assert!(err.message.contains("found 'b'"), "{}", err.message);
        assert_eq!(error("all() all()").position, 6);
        assert_eq!(error("a == 'x' 'y'").position, 9);
    }

    #[test]
    fn missing_operands_are_rejected() {
        for (sel, pos) in [
            ("&& has(a)", 0),
            ("has(a) &&", 9),
            ("has(a) || ", 10),
            ("has(a) && || has(b)", 10),
            ("!", 1),
            ("()", 1),
            ("( )", 2),
            ("{'x'}", 0),
            ("'x' == a", 0),
        ] {
            let err = error(sel);
            assert_eq!(err.position, pos, "{sel}: {err}");
            assert!(err.message.starts_with("expected an expression"), "{sel}: {err}");
        }
    }

    #[test]
    fn error_position_points_at_bad_token() {
        let sel = "app == 'web' && tier ~= 'db'";
        let err = error(sel);
        assert_eq!(err.position, 21);
        assert_eq!(&sel[err.position..err.position + 1], "~");
        assert_eq!(
            err.to_string(),
            "at position 21: expected an operator (==, !=, in, not in, contains, starts with, ends with) \
             after label 'tier', found '~'"
        );
        // Positions are byte offsets even after multi-byte text.
        let sel = "a == 'ééé' && b ?= 'x'";
        assert_eq!(&sel[error(sel).position..], "?= 'x'");
    }

    #[test]
    fn nesting_is_limited_but_generous() {
        let deep = format!("{}has(a){}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(eval(&deep, &[("a", "")]));
        let too_deep = format!("{}has(a){}", "(!".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
        let err = error(&too_deep);
        assert_eq!(err.position, 2 * MAX_NESTING);
        assert!(err.message.contains("nested"), "{}", err.message);
        // Long runs of "!" need no nesting at all.
        assert!(eval(&format!("{}has(a)", "!".repeat(10_000)), &[("a", "")]));
    }

    #[test]
    fn display_reparses_to_the_same_expression() {
        for sel in [
            "a == 'x' && (b == 'y' || !c in {'1', \"it's\"}) || !(has(d) && e not in {})",
            "!(a == 'x' || b != 'y') && all() && global()",
            "a contains 'x' || a starts with \"'\" || a ends with '\"'",
        ] {
            let e = parse(sel).unwrap();
            assert_eq!(parse(&e.to_string()).unwrap(), e, "{sel} printed as {e}");
        }
        let empty_or = Expr::Or(vec![]);
        assert!(!parse(&empty_or.to_string()).unwrap().matches(&Labels(&labels(&[]))));
        let nested = Expr::And(vec![Expr::And(vec![]), Expr::Not(Box::new(Expr::Or(vec![])))]);
        assert!(parse(&nested.to_string()).unwrap().matches(&Labels(&labels(&[]))));
    }
}
