//! The arguments of a load benchmark: `[COUNT [IN_FLIGHT,…]]` (flags, such as cargo's
//! `--bench`, left out).

/// How many to send (default `count`), and at which numbers in flight (default 8 and 32).
pub fn args(count: usize) -> (usize, Vec<usize>) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n = args.first().and_then(|a| a.parse().ok()).unwrap_or(count);
    let levels = args
        .get(1)
        .map(|a| {
            a.split(',')
                .map(|x| x.parse().expect("in-flight counts"))
                .collect()
        })
        .unwrap_or_else(|| vec![8, 32]);
    (n, levels)
}
