// `sqlx::migrate!` embeds ../migrations at compile time; without this, a new
// migration file (from a pull or a merge) is not picked up until something
// else makes cargo rebuild this crate, and services start with an old schema.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
