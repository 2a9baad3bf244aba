//! `asa-server`: the sync server. Not built yet: see issue 3.

fn main() {
    eprintln!("asa-server is not built yet: the sync server lands with the server issue");
    std::process::exit(2);
}
