//! The `isoscope` binary: parses the command line and exits with the verdict's code.

fn main() {
    std::process::exit(isoscope::cli::main());
}
