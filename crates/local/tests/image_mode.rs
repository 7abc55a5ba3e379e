//! Image mode against real runc: a container runs on an image's root (a busybox root this
//! test builds, standing in for a pulled image) under a writable overlay of its own, with the
//! image's environment and user, while our own init image comes from this machine's programs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use testwerk_local::{
    ImageRoot, ImageRoots, LocalOptions, Mode, Network, Programs, RunEvent, Runc,
};

/// Serves one stand-in root for every image it is asked for, and counts the asks.
struct StandIn {
    root: PathBuf,
    asked: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

impl ImageRoots for StandIn {
    fn root(
        &self,
        image: &str,
        policy: Option<&str>,
        progress: &mut dyn FnMut(String),
    ) -> Result<ImageRoot, String> {
        if image.starts_with("missing/") {
            return Err(format!(
                "{image} is not in the cache (imagePullPolicy: Never)"
            ));
        }
        progress(format!("{image}: cached"));
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((image.to_owned(), policy.map(str::to_owned)));
        Ok(ImageRoot {
            root: self.root.clone(),
            env: vec!["IMAGE_VAR=from-image".into(), "PATH=/bin".into()],
            working_dir: Some("/work".into()),
            user: Some("app".into()),
        })
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tw-image-mode-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// A minimal image: busybox with a few applets, a user `app` (1234), a working directory.
fn busybox_root(dir: &Path) -> PathBuf {
    let root = dir.join("image");
    for d in ["bin", "etc", "work"] {
        std::fs::create_dir_all(root.join(d)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap_or_else(|e| panic!("{e}"));
    for applet in [
        "sh", "id", "pwd", "test", "echo", "cat", "ls", "touch", "sleep", "head", "tail", "true",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/work:/bin/sh\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("image-marker"), "from the image\n").unwrap_or_else(|e| panic!("{e}"));
    // `app`'s home, writable by it in the image, as an image's USER directory is.
    rustix::fs::chown(
        root.join("work"),
        Some(rustix::process::Uid::from_raw(1234)),
        Some(rustix::process::Gid::from_raw(1234)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    root
}

/// A static `testwerk-init`, as our init image carries (an image has no C library for a
/// dynamic one): `$TESTWERK_STATIC_INIT`, else the one `scripts/test` builds, built here if
/// missing.
fn init_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TESTWERK_STATIC_INIT") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let init = target.join("x86_64-unknown-linux-gnu/init/testwerk-init");
    if !init.is_file() {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--profile",
                "init",
                "-p",
                "testwerk-init",
                "--target",
                "x86_64-unknown-linux-gnu",
            ])
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .current_dir(&root)
            .status()
            .unwrap_or_else(|e| panic!("cannot build the static testwerk-init: {e}"));
        assert!(status.success(), "building the static testwerk-init failed");
    }
    init
}

fn bundle(yaml: &str) -> testwerk_bundle::Bundle {
    // Tests run in parallel: each compiles in a directory of its own.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = scratch(&format!("wf-{n}"));
    let file = dir.join("wf.yaml");
    std::fs::write(&file, yaml).unwrap_or_else(|e| panic!("{e}"));
    let inputs = testwerk_pipeline::load_inputs(&file, &[]).unwrap_or_else(|e| panic!("{e:?}"));
    let images = testwerk_plan::StaticImages::default();
    let settings = testwerk_pipeline::CompileSettings {
        namespace: "local".into(),
        images: own_images(),
        image_source: &images,
        execution_id: Some("image-mode-1".into()),
        execution: None,
        config: Default::default(),
        // Run by the local runner: only the kernel's limits bind.
        target: testwerk_pipeline::Target::Local,
        toolkit: None,
    };
    let compiled = testwerk_pipeline::compile(&inputs.workflows[0], &inputs.templates, &settings)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let _ = std::fs::remove_dir_all(&dir);
    compiled.bundle
}

fn own_images() -> testwerk_plan::OwnImages {
    testwerk_plan::OwnImages {
        init: "testwerk/init:test".into(),
        toolkit: "testwerk/toolkit:test".into(),
        delivery: Default::default(),
    }
}

fn options(dir: &Path, roots: Arc<dyn ImageRoots>) -> LocalOptions {
    let token = "t0ken-for-image-mode".to_owned();
    LocalOptions {
        dir: dir.join("run"),
        programs: Programs {
            init: init_binary(),
            toolkit: PathBuf::from("/bin/true"),
        },
        runc: Runc::find(dir.join("runc")).unwrap_or_else(|e| panic!("{e}")),
        mode: Mode::Images {
            roots,
            init_image: own_images().init,
            toolkit_image: own_images().toolkit,
        },
        network: Network::Host,
        hidden: Vec::new(),
        extra_env: vec![(testwerk_protocol::env::TOKEN.to_owned(), token)],
        control: None,
        deadline: Some(Duration::from_secs(60)),
        grace: Duration::from_secs(5),
        abort: Arc::new(AtomicBool::new(false)),
        pids_limit: 4096,
    }
}

fn usable() -> bool {
    let runc = testwerk_testinputs::which("runc")
        .or_else(|| Some(PathBuf::from("/usr/sbin/runc")).filter(|p| p.is_file()));
    let busybox = Some(PathBuf::from("/bin/busybox")).filter(|p| p.is_file());
    testwerk_testinputs::available(runc, "runc", "apt-get install -y runc").is_some()
        && testwerk_testinputs::available(busybox, "busybox", "apt-get install -y busybox-static")
            .is_some()
        // The image runs as its user 1234: rootless, only user 0 exists in a container.
        && rustix::process::geteuid().is_root()
}

#[test]
fn a_container_runs_on_its_image_with_a_writable_layer_of_its_own() {
    if !usable() {
        return;
    }
    let dir = scratch("layer");
    let image = busybox_root(&dir);
    let stand_in = Arc::new(StandIn {
        root: image.clone(),
        asked: Default::default(),
    });
    let b = bundle(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: image-mode\nspec:\n  container:\n    image: stand-in/busybox:1\n  steps:\n  - name: In the image\n    shell: |\n      cat /image-marker > /data/marker\n      echo \"$IMAGE_VAR\" > /data/env\n      id -u > /data/uid\n      echo layer > /work/written-in-layer\n      cat /work/written-in-layer > /data/layer\n      pwd > /data/pwd\n      if [ -e /etc/os-release ]; then echo HOST > /data/host; fi\n",
    );
    let opts = options(&dir, stand_in.clone());
    let mut output = Vec::new();
    let mut notes = Vec::new();
    let outcome = testwerk_local::run(&b, &opts, &mut |e| match e {
        RunEvent::Output { bytes, .. } => output.extend(bytes),
        RunEvent::Diagnostic { line, .. } | RunEvent::Note(line) | RunEvent::Warning(line) => {
            notes.push(line)
        }
        _ => {}
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&output);
    assert_eq!(outcome.exit_codes, vec![0, 0], "{text}\n{notes:?}");
    let data = opts.dir.join("volumes/tw-data");
    let read = |f: &str| std::fs::read_to_string(data.join(f)).unwrap_or_default();
    assert_eq!(read("marker"), "from the image\n");
    assert_eq!(read("env"), "from-image\n");
    assert_eq!(
        read("uid"),
        "1234\n",
        "the image's user `app`, from its /etc/passwd"
    );
    assert_eq!(read("layer"), "layer\n");
    assert_eq!(
        read("host"),
        "",
        "this machine's files are not in an image's root"
    );
    // The image's root is shared and stays as it was; the write went to the layer.
    assert!(!image.join("work/written-in-layer").exists());
    assert_eq!(read("pwd"), "/work\n", "the image's working directory");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("stand-in/busybox:1: cached")),
        "{notes:?}"
    );
    let asked = stand_in
        .asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(
        asked,
        vec![(
            "stand-in/busybox:1".to_owned(),
            Some("IfNotPresent".to_owned())
        )],
        "only the user image is asked for; our own images come from this machine"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_image_that_cannot_be_had_is_an_error_suggesting_host_mode() {
    if !usable() {
        return;
    }
    let dir = scratch("missing");
    let stand_in = Arc::new(StandIn {
        root: busybox_root(&dir),
        asked: Default::default(),
    });
    let b = bundle(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: missing\nspec:\n  container:\n    image: missing/thing:1\n    imagePullPolicy: Never\n  steps:\n  - name: Never runs\n    shell: echo hi\n",
    );
    let opts = options(&dir, stand_in);
    let error = testwerk_local::run(&b, &opts, &mut |_| {})
        .err()
        .unwrap_or_else(|| panic!("ran without its image"))
        .to_string();
    assert!(
        error.contains("missing/thing:1") && error.contains("--host"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
