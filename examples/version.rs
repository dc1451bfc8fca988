//! Reports the libzmq version in use (zguide: version).
fn main() {
    let (major, minor, patch) = zmsg::version();
    println!("Current 0MQ version is {major}.{minor}.{patch}");
}
