//! What the Dockerfile and the compose file deploy: production settings,
//! and no secret written into them.

fn read(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_image_runs_in_production() {
    let docker = read("Dockerfile");
    let env: Vec<&str> = docker
        .lines()
        .filter(|l| l.trim_start().starts_with("ENV "))
        .collect();
    assert!(
        env.iter()
            .any(|l| l.split_whitespace().any(|w| w == "APP_ENV=production")),
        "the image sets APP_ENV=production: {env:?}"
    );
    assert!(!docker.contains("JWT_SECRET="), "no secret in the image");
}

#[test]
fn compose_takes_the_secret_from_the_environment_and_defaults_to_production() {
    let compose = read("docker-compose.yml");
    let line = |key: &str| {
        compose
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key} in docker-compose.yml"))
            .to_owned()
    };
    let secret = line("JWT_SECRET");
    assert!(
        secret.starts_with("JWT_SECRET: ${JWT_SECRET:?"),
        "compose refuses to start without JWT_SECRET: {secret}"
    );
    assert_eq!(line("APP_ENV"), "APP_ENV: ${APP_ENV:-production}");
}
