//! Eliding long lists so that an example fits on a screen: `[1 2 3 4 ... 26 27 28 29]`.
//!
//! Invariant: an elided list shows at most [`LIMIT`] elements, the first few and the last
//! (a list-append read's newest elements are at its end, where anomalies usually show).

/// The most elements a list shows.
pub const LIMIT: usize = 12;

/// Elements kept from the start of a long list; the rest of [`LIMIT`] come from its end.
const HEAD: usize = 4;

/// The marker standing for the elided elements.
pub const MARK: &str = "...";

/// The elements to show: all of them if there are at most [`LIMIT`], else the head, [`MARK`]
/// and the tail.
pub fn elements<T: AsRef<str>>(xs: &[T]) -> Vec<&str> {
    if xs.len() <= LIMIT {
        return xs.iter().map(|x| x.as_ref()).collect();
    }
    let tail = LIMIT - HEAD;
    let mut out: Vec<&str> = xs[..HEAD].iter().map(|x| x.as_ref()).collect();
    out.push(MARK);
    out.extend(xs[xs.len() - tail..].iter().map(|x| x.as_ref()));
    out
}

/// The elements to show around position `at` (where two reads part): the first two, the
/// three before `at` and four from it, and the last two, each gap marked; never a gap across
/// `at`. At most [`LIMIT`] elements.
pub fn around<T: AsRef<str>>(xs: &[T], at: usize) -> Vec<&str> {
    if xs.len() <= LIMIT {
        return xs.iter().map(|x| x.as_ref()).collect();
    }
    let from = at.saturating_sub(3);
    let to = (at + 4).min(xs.len());
    let mut keep: Vec<usize> = (0..2)
        .chain(from..to)
        .chain(xs.len() - 2..xs.len())
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut out = Vec::new();
    let mut last = None;
    for i in keep {
        if last.is_some_and(|l| i > l + 1) || (last.is_none() && i > 0) {
            out.push(MARK);
        }
        out.push(xs[i].as_ref());
        last = Some(i);
    }
    out
}

/// Elides every innermost `[...]` list in `s` (elements separated by spaces, as in EDN) that
/// has more than [`LIMIT`] elements, and says how many it had.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(']');
        let nested = after.find('[');
        match close {
            Some(c) if nested.is_none_or(|n| n > c) => {
                let items: Vec<&str> = after[..c].split_whitespace().collect();
                if items.len() > LIMIT {
                    out.push('[');
                    out.push_str(&elements(&items).join(" "));
                    out.push_str(&format!("] ({} elements)", items.len()));
                } else {
                    out.push_str(&rest[open..open + 1 + c + 1]);
                }
                rest = &after[c + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_keep_their_head_and_tail() {
        let xs: Vec<String> = (1..=29).map(|i| i.to_string()).collect();
        let e = elements(&xs);
        assert_eq!(e.len(), LIMIT + 1, "{e:?}");
        assert_eq!(e.join(" "), "1 2 3 4 ... 22 23 24 25 26 27 28 29");
        let short: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
        assert_eq!(elements(&short).len(), 12);
    }

    #[test]
    fn around_keeps_the_point_of_divergence() {
        let xs: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
        assert_eq!(
            around(&xs, 20).join(" "),
            "1 2 ... 18 19 20 21 22 23 24 ... 39 40"
        );
        assert_eq!(around(&xs, 1).join(" "), "1 2 3 4 5 ... 39 40");
        assert!(around(&xs, 20).len() <= LIMIT + 2);
    }

    #[test]
    fn text_elides_only_long_innermost_lists() {
        let long: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
        let s = format!("[[:r 5 [{}]] [:append 5 3]] and [1 2]", long.join(" "));
        assert_eq!(
            text(&s),
            "[[:r 5 [1 2 3 4 ... 13 14 15 16 17 18 19 20] (20 elements)] [:append 5 3]] and [1 2]"
        );
        assert_eq!(text("no lists [here"), "no lists [here");
    }
}
