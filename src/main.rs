fn main() -> std::process::ExitCode {
    headroom::cli::run()
}
