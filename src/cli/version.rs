//! `infra version`.

pub fn run() -> anyhow::Result<u8> {
    println!("infra {}", env!("CARGO_PKG_VERSION"));
    println!("state schema {}", crate::state::SCHEMA_VERSION);
    println!("reads Terraform state version 4");
    Ok(crate::exit::SUCCESS)
}
