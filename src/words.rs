//! Counts in words, for the text people read: "1 file", "2 files".

/// `n` and `noun`, the noun plural (a trailing "s") unless `n` is 1. `noun` is the singular and
/// takes a regular plural.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(2, "call"), "2 calls");
    }
}
