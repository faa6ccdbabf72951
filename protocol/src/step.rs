//! PGD step sizes relative to ε: `pgd_step: eps/4` or `2.5*eps/steps`, as
//! the robust-training papers state them, so that sweeping ε keeps the
//! attack able to reach it.
//!
//! A step size is a number, or an expression in `eps` (the run's ε) and
//! `steps` (the attack's number of steps) with `+ - * /`, parentheses and
//! decimal numbers. An expression is kept with its value at the run's ε, so
//! a stored config says both what was asked and what ran:
//! `"pgd_step": {"expr": "eps/4", "value": 0.0078431}`. A plain number is
//! stored as a number, as before.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// A step size: a number, or an expression with its value.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSize {
    value: f64,
    expr: Option<String>,
}

impl StepSize {
    pub const fn fixed(value: f64) -> StepSize {
        StepSize { value, expr: None }
    }

    /// An expression, checked for syntax now; its value comes with
    /// [`StepSize::resolve`].
    pub fn expression(text: &str) -> Result<StepSize, String> {
        let text = text.trim();
        Expr::parse(text)?;
        Ok(StepSize { value: f64::NAN, expr: Some(text.to_owned()) })
    }

    /// The step in pixel units, as resolved.
    pub fn value(&self) -> f64 {
        self.value
    }

    pub fn expr(&self) -> Option<&str> {
        self.expr.as_deref()
    }

    /// Evaluates the expression at `eps` and `steps`; a plain number stays.
    pub fn resolve(&mut self, eps: f64, steps: u32) -> Result<(), String> {
        if let Some(text) = &self.expr {
            let value = Expr::parse(text)?.eval(eps, f64::from(steps));
            if !value.is_finite() {
                return Err(format!("`{text}` is not a finite number at ε = {eps} and {steps} steps (a division by zero?)"));
            }
            self.value = value;
        }
        Ok(())
    }

    /// Whether the stored value is the expression's at `eps` and `steps`.
    pub fn is_resolved(&self, eps: f64, steps: u32) -> bool {
        let mut again = self.clone();
        again.resolve(eps, steps).is_ok() && (again.value - self.value).abs() <= 1e-12 * self.value.abs().max(1.0)
    }
}

impl Default for StepSize {
    fn default() -> Self {
        StepSize::fixed(2.0 / 255.0)
    }
}

impl Serialize for StepSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.expr {
            None => s.serialize_f64(self.value),
            Some(expr) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("expr", expr)?;
                // Unresolved only between parsing and resolving; JSON has no NaN.
                map.serialize_entry("value", &Some(self.value).filter(|v| v.is_finite()))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for StepSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Stored {
            expr: String,
            #[serde(default)]
            value: Option<f64>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Input {
            Number(f64),
            Text(String),
            Stored(Stored),
        }
        let invalid = |e: String| de::Error::custom(e);
        match Input::deserialize(d).map_err(|_| {
            de::Error::custom("a step size is a number (0.00784) or an expression in eps and steps (\"eps/4\", \"2.5*eps/steps\")")
        })? {
            Input::Number(value) => Ok(StepSize::fixed(value)),
            Input::Text(text) => match text.trim().parse::<f64>() {
                Ok(value) => Ok(StepSize::fixed(value)),
                Err(_) => StepSize::expression(&text).map_err(invalid),
            },
            Input::Stored(stored) => {
                let mut step = StepSize::expression(&stored.expr).map_err(invalid)?;
                step.value = stored.value.unwrap_or(f64::NAN);
                Ok(step)
            }
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Eps,
    Steps,
    Neg(Box<Expr>),
    Binary(Box<Expr>, char, Box<Expr>),
}

impl Expr {
    fn parse(text: &str) -> Result<Expr, String> {
        if text.len() > 200 {
            return Err("is longer than 200 characters; write a short expression such as eps/4".into());
        }
        let mut p = Parser { text, pos: 0 };
        let expr = p.sum()?;
        p.skip_space();
        if p.pos < text.len() {
            return Err(format!("`{text}`: unexpected `{}`; use numbers, eps, steps, + - * / and parentheses", &text[p.pos..]));
        }
        Ok(expr)
    }

    fn eval(&self, eps: f64, steps: f64) -> f64 {
        match self {
            Expr::Number(n) => *n,
            Expr::Eps => eps,
            Expr::Steps => steps,
            Expr::Neg(e) => -e.eval(eps, steps),
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(eps, steps), b.eval(eps, steps));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
        }
    }
}

/// Recursive descent: sum = product (('+'|'-') product)*, product = unary
/// (('*'|'/') unary)*, unary = '-' unary | atom, atom = number | eps |
/// steps | '(' sum ')'.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..].chars().next().map_or(1, char::len_utf8);
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some('-') {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let text = self.text;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.sum()?;
                if self.peek() != Some(')') {
                    return Err(format!("`{text}`: a `(` is not closed"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                let rest = &text[start..];
                let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
                self.pos += len;
                rest[..len].parse().map(Expr::Number).map_err(|_| format!("`{text}`: `{}` is not a number", &rest[..len]))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = &text[self.pos..];
                let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                self.pos += len;
                match &rest[..len] {
                    "eps" | "epsilon" => Ok(Expr::Eps),
                    "steps" => Ok(Expr::Steps),
                    word => Err(format!("`{text}`: unknown name `{word}`; an expression knows only eps and steps")),
                }
            }
            Some(c) => Err(format!("`{text}`: unexpected `{c}`; use numbers, eps, steps, + - * / and parentheses")),
            None => Err(format!("`{text}` ends too early; write an expression such as eps/4")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, eps: f64, steps: u32) -> f64 {
        let mut s = StepSize::expression(text).unwrap();
        s.resolve(eps, steps).unwrap();
        s.value()
    }

    #[test]
    fn expressions_follow_the_usual_precedence() {
        assert_eq!(at("eps/4", 0.1, 10), 0.025);
        assert!((at("2.5*eps/steps", 0.1, 10) - 0.025).abs() < 1e-15);
        assert_eq!(at("(eps + eps) / 4", 0.1, 10), 0.05);
        assert_eq!(at("eps - -eps/2", 0.2, 1), 0.30000000000000004);
        assert_eq!(at("1.5 * steps", 0.0, 4), 6.0);
        assert_eq!(at("2*eps/steps*2", 1.0, 4), 1.0, "left to right");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert!(StepSize::expression("eps/").unwrap_err().contains("ends too early"));
        assert!(StepSize::expression("eps^2").unwrap_err().contains("unexpected `^2`"));
        assert!(StepSize::expression("alpha/4").unwrap_err().contains("unknown name `alpha`"));
        assert!(StepSize::expression("(eps/4").unwrap_err().contains("not closed"));
        let mut zero = StepSize::expression("eps/steps").unwrap();
        assert!(zero.resolve(0.1, 0).unwrap_err().contains("not a finite number"));
    }

    #[test]
    fn numbers_stay_numbers_and_expressions_keep_their_value() {
        let n: StepSize = serde_json::from_str("0.01").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "0.01");
        let n: StepSize = serde_json::from_str("\"0.01\"").unwrap();
        assert_eq!(n, StepSize::fixed(0.01));

        let mut e: StepSize = serde_json::from_str("\"eps/4\"").unwrap();
        e.resolve(0.1, 10).unwrap();
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(text, r#"{"expr":"eps/4","value":0.025}"#);
        let back: StepSize = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert!(back.is_resolved(0.1, 10) && !back.is_resolved(0.2, 10));
        assert!(serde_json::from_str::<StepSize>("true").unwrap_err().to_string().contains("expression in eps and steps"));
    }
}
