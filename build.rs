//! Marks the build when Postgres is there for the tests (`PAYBRIDGE_TEST_POSTGRES_URL`):
//! without it, the Postgres half of every `db_test!` is reported as ignored rather than
//! passing without running. Likewise Redis (`PAYBRIDGE_TEST_REDIS_URL`) for the
//! rate-limit tests' shared-store half (`limits_test!`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(paybridge_postgres)");
    println!("cargo::rustc-check-cfg=cfg(paybridge_redis)");
    println!("cargo::rerun-if-env-changed=PAYBRIDGE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=PAYBRIDGE_TEST_REDIS_URL");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("PAYBRIDGE_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=paybridge_postgres");
    }
    if std::env::var_os("PAYBRIDGE_TEST_REDIS_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=paybridge_redis");
    }
}
