//! `testwerk`: compile, run and inspect TestWorkflows.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use testwerk_cli::run::control::Action;
use testwerk_cli::{history, output, pipeline, render, test_cases};
use testwerk_plan::{ImageSource, OwnImages, StaticImages};
use testwerk_protocol::toolkit::GitMirror;

#[derive(Parser)]
#[command(
    name = "testwerk",
    version,
    about = "A Kubernetes-native test workflow engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile TestWorkflows into the Kubernetes objects that run them.
    Compile(Box<CompileArgs>),
    /// Run a workflow on this machine (no cluster), showing each step live.
    ///
    /// Exit codes: 0 the workflow passed, 1 it failed, 2 input error, 3 the results could not
    /// be stored (the run is stopped and the message says what is missing), 4 `--server`: the
    /// agent could not be reached again within `--reconnect-timeout`.
    Run(Box<RunArgs>),
    /// The toolkit's operations (clone, tarball, artifacts), as run inside an execution's
    /// containers.
    #[command(hide = true)]
    Toolkit {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// List recorded executions, or show one (`testwerk executions <id>`).
    #[command(args_conflicts_with_subcommands = true)]
    Executions {
        #[command(subcommand)]
        show: Option<ExecutionsCommand>,
        /// Show this execution (as `executions show <id>`): its id, `<workflow>-<number>`, or a
        /// unique id prefix.
        id: Option<String>,
        /// Only executions of this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Only executions with this tag (`--tag team=payments`); may be repeated.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        #[arg(long, value_enum, default_value_t = ViewOutput::Text, global = true)]
        output: ViewOutput,
        #[arg(long, value_name = "DB", global = true)]
        store: Option<PathBuf>,
    },
    /// List an execution's artifacts, or download them (`--download DIR`).
    Artifacts(Box<ArtifactsArgs>),
    /// Print the logs of an execution (all steps, each introduced by a `── <step>` line; or one).
    Logs {
        /// Execution id, `<workflow>-<number>`, or a unique id prefix.
        id: String,
        /// Only this step (name, id or ref).
        #[arg(long)]
        step: Option<String>,
        /// The log of one of its children instead (a parallel worker, a service instance, an
        /// executed workflow): its number in `executions show`'s list (from 1), or its name.
        #[arg(long, value_name = "N|NAME")]
        child: Option<String>,
        /// `json`/`yaml`: every line with its time and step.
        #[arg(long, value_enum, default_value_t = ViewOutput::Text)]
        output: ViewOutput,
        #[arg(long, value_name = "DB")]
        store: Option<PathBuf>,
    },
    /// Show the test cases read from an execution's JUnit/xUnit reports: failures and errors
    /// first, then a summary line (`12 passed, 2 failed, 1 skipped`).
    Tests {
        /// Execution id, `<workflow>-<number>`, or a unique id prefix.
        id: String,
        /// `json`/`yaml`: every field of every case, and the counts.
        #[arg(long, value_enum, default_value_t = ViewOutput::Text)]
        output: ViewOutput,
        #[arg(long, value_name = "DB")]
        store: Option<PathBuf>,
    },
    /// Read images' metadata from their registries, or pull images to this machine.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Print the CustomResourceDefinitions of the testworkflows.testkube.io/v1 kinds.
    Crds,
    /// Run workflows on a Kubernetes cluster: watch TestWorkflowExecutions, serve the REST API
    /// and the web UI (callers need a Kubernetes token; RBAC decides what they may do).
    Agent(Box<AgentArgs>),
    /// Serve the web UI over this machine's results (executions, logs, test cases, workflow
    /// health): on loopback, behind a random token printed at start.
    Ui(Box<UiArgs>),
    /// Abort a running execution (its running step is aborted, the rest skipped).
    Abort(ControlArgs),
    /// Pause a running execution (its processes are suspended).
    Pause(ControlArgs),
    /// Resume a paused execution.
    Resume(ControlArgs),
}

#[derive(clap::Args)]
struct CompileArgs {
    /// A YAML file with one or more TestWorkflow (and TestWorkflowTemplate) documents.
    file: PathBuf,
    /// A template file, or a directory searched recursively; may be repeated.
    #[arg(long = "templates", value_name = "PATH")]
    templates: Vec<PathBuf>,
    /// Compile only the workflow with this name.
    #[arg(long)]
    workflow: Option<String>,
    /// Image metadata table (YAML: `images: {<ref>: {entrypoint, cmd, workingDir, user}}`);
    /// without it, images are looked up in their registries when a step needs them.
    #[arg(long, value_name = "FILE")]
    images: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[arg(long, value_enum, default_value_t = Output::Yaml)]
    output: Output,
    /// Print a readable plan (containers, steps, merge decisions) instead of objects.
    #[arg(long)]
    plan: bool,
    /// A config value for the workflow: `--config name=value`; may be repeated.
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// Execution id used to name the objects (default: `<workflow>-1`).
    #[arg(long = "id")]
    execution_id: Option<String>,
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Image that runs `init` and our own steps.
    #[arg(long)]
    init_image: Option<String>,
    /// Image that runs the toolkit (clone, artifacts, services, parallel, execute).
    #[arg(long)]
    toolkit_image: Option<String>,
    /// Show Secret values in the output instead of redacting them.
    #[arg(long)]
    reveal_secrets: bool,
    /// Compile for a cluster that mounts our images as image volumes (no setup container),
    /// as the agent does when its probe finds support.
    #[arg(long)]
    image_volumes: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// A YAML file with the TestWorkflow (and any TestWorkflowTemplates).
    file: PathBuf,
    /// Which workflow, when the file holds several.
    #[arg(long)]
    workflow: Option<String>,
    /// A template file, or a directory searched recursively; may be repeated.
    #[arg(long = "templates", value_name = "PATH")]
    templates: Vec<PathBuf>,
    /// A config value: `--config name=value`; may be repeated.
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// A tag for the execution (`--tag team=payments`), to find it by later
    /// (`testwerk executions --tag team=payments`); may be repeated.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Where `execute` finds the workflows it names, besides FILE: a file, or a directory
    /// searched recursively; may be repeated.
    #[arg(long = "workflows", value_name = "PATH")]
    workflows: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = RunOutput::Pretty)]
    output: RunOutput,
    /// The results database (default: the user's data directory).
    #[arg(long, value_name = "DB")]
    store: Option<PathBuf>,
    /// Keep the execution's directory (volumes, OCI bundles) for debugging.
    #[arg(long)]
    keep: bool,
    /// No images: every container runs in runc on this machine's own directories, read-only.
    #[arg(long)]
    host: bool,
    /// Fetch `content.git` repositories whose URL starts with FROM from TO instead (like Git's
    /// `url.<TO>.insteadOf FROM`): `--git-mirror https://github.com/=http://127.0.0.1:9418/`;
    /// may be repeated, the longest FROM wins.
    #[arg(long = "git-mirror", value_name = "FROM=TO", value_parser = GitMirror::parse, conflicts_with = "server")]
    git_mirror: Vec<GitMirror>,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Image mode: the image store (default: ~/.cache/testwerk/images, or under $XDG_CACHE_HOME).
    #[arg(long, value_name = "DIR")]
    image_cache: Option<PathBuf>,
    /// Run on the testwerk agent at this URL (`http://host:port`) instead of this machine.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// With `--server`: how long to keep trying to reach the agent again after losing it
    /// (e.g. while it restarts), in seconds; then exit 4.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    reconnect_timeout: u64,
    /// Internal: this run is a child of another local run (`PARENT:STEP:KIND`).
    #[arg(long, hide = true, value_parser = testwerk_cli::run::ChildOf::parse)]
    child_of: Option<testwerk_cli::run::ChildOf>,
    /// Internal: the id to record the execution under (a child's, chosen by its parent).
    #[arg(long, hide = true)]
    execution_id: Option<String>,
    /// Internal: the network namespace the Pod joins (a worker's or service's, made by its
    /// parent).
    #[arg(long, hide = true, value_name = "PATH")]
    netns: Option<PathBuf>,
}

impl RunArgs {
    /// The flags a child run gets from this one: same store, mode, registries, mirrors and
    /// artifact storage.
    fn pass_on(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        let mut flag = |name: &str, value: std::ffi::OsString| {
            out.push(name.into());
            out.push(value);
        };
        if let Some(store) = &self.store {
            flag(
                "--store",
                std::fs::canonicalize(store)
                    .unwrap_or_else(|_| store.clone())
                    .into(),
            );
        }
        if let Some(dir) = &self.image_cache {
            flag("--image-cache", dir.clone().into());
        }
        for m in &self.git_mirror {
            flag("--git-mirror", format!("{}={}", m.from, m.to).into());
        }
        for w in &self.workflows {
            flag(
                "--workflows",
                std::fs::canonicalize(w)
                    .unwrap_or_else(|_| w.clone())
                    .into(),
            );
        }
        let storage = &self.storage;
        for (name, value) in [
            ("--artifacts", &storage.artifacts),
            ("--s3-endpoint", &storage.s3_endpoint),
            ("--s3-region", &storage.s3_region),
            ("--platform", &self.registry.platform),
        ] {
            if let Some(v) = value {
                flag(name, v.into());
            }
        }
        for c in &self.registry.docker_config {
            flag("--docker-config", c.clone().into());
        }
        for (name, values) in [
            ("--insecure", &self.registry.insecure),
            ("--registry-ca", &self.registry.registry_ca),
            ("--registry-mirror", &self.registry.registry_mirror),
        ] {
            for v in values {
                flag(name, v.into());
            }
        }
        if self.host {
            out.push("--host".into());
        }
        out
    }
}

#[derive(clap::Args)]
struct AgentArgs {
    /// The namespace whose workflows and executions the agent runs.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Where the REST API listens.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: std::net::SocketAddr,
    /// The results database (default: the user's data directory).
    #[arg(long, value_name = "DB")]
    store: Option<PathBuf>,
    /// Which finished executions keep their Kubernetes objects.
    #[arg(long, value_enum, default_value_t = CleanupArg::Always)]
    cleanup: CleanupArg,
    /// Only check that the CRDs exist instead of applying them.
    #[arg(long)]
    no_install_crds: bool,
    /// ServiceAccount for execution Pods whose workflow names none (see deploy/rbac.yaml).
    #[arg(long, value_name = "NAME")]
    execution_service_account: Option<String>,
    /// How long a Pod may wait for a node before its execution fails (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    unschedulable_timeout: u64,
    /// Run at most N executions at once; the others wait in a queue, oldest first (a
    /// workflow's `spec.concurrency.max` limits its own group too). Default: no limit.
    #[arg(long, value_name = "N")]
    max_running: Option<usize>,
    /// Run as one of several replicas sharing one PostgreSQL `--store`: every replica serves
    /// the API and the UI, the one holding the Lease `testwerk-agent` starts and follows the
    /// executions, and another takes over within seconds when it dies.
    #[arg(long)]
    leader_election: bool,
    /// Mount our images into execution Pods as image volumes (Kubernetes `ImageVolume`)
    /// instead of copying `init` and the toolkit in a setup container: `auto` asks the cluster
    /// once at start with a probe Job and copies until it has answered yes.
    #[arg(long, value_enum, default_value_t = ImageVolumesArg::Auto)]
    image_volumes: ImageVolumesArg,
    /// Image that runs `init` and our own steps.
    #[arg(long)]
    init_image: Option<String>,
    /// Image that runs the toolkit.
    #[arg(long)]
    toolkit_image: Option<String>,
    /// Fetch `content.git` repositories whose URL starts with FROM from TO instead (like Git's
    /// `url.<TO>.insteadOf FROM`): `--git-mirror https://github.com/=http://127.0.0.1:9418/`;
    /// may be repeated, the longest FROM wins.
    #[arg(long = "git-mirror", value_name = "FROM=TO", value_parser = GitMirror::parse)]
    git_mirror: Vec<GitMirror>,
    #[command(flatten)]
    storage: StorageArgs,
    /// The agent's API as execution Pods reach it (`http://10.0.0.5:8088`): where they upload
    /// artifacts. Default: the --listen address, unless it is loopback or unspecified.
    #[arg(long, value_name = "URL")]
    advertise_url: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(clap::Args)]
struct UiArgs {
    /// Where it listens: loopback only (`testwerk ui` serves this machine's results).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: std::net::SocketAddr,
    /// The results database (default: the user's data directory).
    #[arg(long, value_name = "DB")]
    store: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Where artifacts are stored: `--artifacts`, `--s3-endpoint`, `--s3-region` (credentials from
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
#[derive(clap::Args)]
struct StorageArgs {
    /// Artifact storage: `s3://bucket[/prefix]` or a folder (default: `$TESTWERK_ARTIFACTS`,
    /// else `artifacts/` beside the results store).
    #[arg(long = "artifacts", value_name = "LOCATION")]
    artifacts: Option<String>,
    /// The S3 endpoint, for S3-compatible storage (default: `$AWS_ENDPOINT_URL`, else AWS).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The S3 region (default: `$AWS_REGION`, `$AWS_DEFAULT_REGION`, else us-east-1).
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
}

impl StorageArgs {
    fn flags(&self) -> testwerk_artifacts::StorageFlags {
        testwerk_artifacts::StorageFlags {
            location: self.artifacts.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
        }
    }
}

#[derive(clap::Args)]
struct ArtifactsArgs {
    /// Execution id, `<workflow>-<number>`, or a unique id prefix.
    id: String,
    /// Fetch every artifact into this folder (`DIR/<name>`; `DIR/<step>/<name>` for a name
    /// several steps stored).
    #[arg(long, value_name = "DIR")]
    download: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ViewOutput::Text)]
    output: ViewOutput,
    /// The results database (default: the user's data directory).
    #[arg(long, value_name = "DB", conflicts_with = "server")]
    store: Option<PathBuf>,
    /// Read them from the testwerk agent at this URL.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(clap::Args)]
struct ControlArgs {
    /// Execution id, `<workflow>-<number>`, or a unique id prefix.
    id: String,
    /// The agent's URL; without it, the execution is a `testwerk run` on this machine.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The results database of a local run (default: the user's data directory).
    #[arg(long, value_name = "DB", conflicts_with = "server")]
    store: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ImageVolumesArg {
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum CleanupArg {
    Always,
    KeepFailed,
    Never,
}

/// How to reach registries (`testwerk compile` without `--images`, `testwerk image inspect`).
#[derive(clap::Args)]
struct RegistryArgs {
    /// Registry credentials: a Docker config JSON or a Kubernetes Secret manifest; may be
    /// repeated (tried before ~/.docker/config.json).
    #[arg(long = "docker-config", value_name = "FILE")]
    docker_config: Vec<PathBuf>,
    /// A registry (`host[:port]`) spoken to over plain HTTP; may be repeated.
    #[arg(long = "insecure", value_name = "HOST")]
    insecure: Vec<String>,
    /// A CA bundle for a registry: `--registry-ca host[:port]=ca.pem`; may be repeated.
    #[arg(long = "registry-ca", value_name = "HOST=FILE")]
    registry_ca: Vec<String>,
    /// The nodes' platform, for multi-platform images (default linux/amd64).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// Ask a mirror for a registry's images, as the nodes do: `--registry-mirror docker.io=host:port`;
    /// may be repeated.
    #[arg(long = "registry-mirror", value_name = "REGISTRY=HOST")]
    registry_mirror: Vec<String>,
}

impl RegistryArgs {
    fn options(&self) -> pipeline::RegistryOptions {
        pipeline::RegistryOptions {
            docker_configs: self.docker_config.clone(),
            insecure: self.insecure.clone(),
            ca_bundles: self.registry_ca.clone(),
            platform: self.platform.clone(),
            mirrors: self.registry_mirror.clone(),
        }
    }
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Print an image's entrypoint, command, working directory, user and env.
    Inspect {
        /// The image reference, as a pod would name it.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
        #[arg(long, value_enum, default_value_t = Output::Yaml)]
        output: Output,
    },
    /// Pull an image into this machine's image store (what `testwerk run` runs containers
    /// from): the registry is asked what the reference names, what is here is reused.
    Pull {
        /// The image reference, as a pod would name it.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
        /// The image store (default: ~/.cache/testwerk/images, or under $XDG_CACHE_HOME).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RunOutput {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum ExecutionsCommand {
    /// Show one execution with its steps and outputs.
    Show { id: String },
}

/// How `executions` and `logs` print.
#[derive(Clone, Copy, ValueEnum)]
enum ViewOutput {
    /// For people.
    Text,
    Json,
    Yaml,
}

impl ViewOutput {
    fn format(self) -> history::Format {
        match self {
            ViewOutput::Text => history::Format::Text,
            ViewOutput::Json => history::Format::Json,
            ViewOutput::Yaml => history::Format::Yaml,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Yaml,
    Json,
}

/// Exit code for input errors (bad YAML, unknown template, bad config).
const INPUT_ERROR: u8 = 2;

fn main() -> ExitCode {
    // Inside an execution's containers this binary is the toolkit (`/.testwerk/toolkit clone …`).
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_default();
    if std::path::Path::new(&program).file_name() == Some(std::ffi::OsStr::new("toolkit")) {
        return testwerk_toolkit::main(argv.collect());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Compile(args) => compile(*args),
        Command::Run(args) => run(*args),
        Command::Toolkit { args } => testwerk_toolkit::main(args),
        Command::Executions {
            show,
            id,
            workflow,
            tags,
            output,
            store,
        } => {
            let format = output.format();
            let code = match (show, id) {
                (Some(ExecutionsCommand::Show { id }), _) | (None, Some(id)) => {
                    history::show(store.as_deref(), &id, format)
                }
                (None, None) => history::list(store.as_deref(), workflow.as_deref(), &tags, format),
            };
            ExitCode::from(code)
        }
        Command::Logs {
            id,
            step,
            child,
            output,
            store,
        } => ExitCode::from(history::logs(
            store.as_deref(),
            &id,
            child.as_deref(),
            step.as_deref(),
            output.format(),
        )),
        Command::Tests { id, output, store } => {
            ExitCode::from(test_cases::tests(store.as_deref(), &id, output.format()))
        }
        Command::Image { command } => match command {
            ImageCommand::Inspect {
                reference,
                registry,
                output,
            } => image_inspect(&reference, &registry, output),
            ImageCommand::Pull {
                reference,
                registry,
                cache,
            } => image_pull(&reference, &registry, cache),
        },
        Command::Agent(args) => agent(*args),
        Command::Ui(args) => {
            let request = testwerk_cli::ui::UiRequest {
                store: args.store,
                listen: args.listen,
                storage: args.storage.flags(),
            };
            match testwerk_cli::ui::ui(&request) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Artifacts(args) => ExitCode::from(testwerk_cli::artifacts::artifacts(
            &testwerk_cli::artifacts::ArtifactsRequest {
                id: args.id,
                download: args.download,
                format: args.output.format(),
                store: args.store,
                server: args.server,
                storage: args.storage.flags(),
            },
        )),
        Command::Abort(args) => control(Action::Abort, &args),
        Command::Pause(args) => control(Action::Pause, &args),
        Command::Resume(args) => control(Action::Resume, &args),
        Command::Crds => ExitCode::from(output::print(&testwerk_spec::crds_yaml())),
    }
}

fn parse_config(pairs: &[String]) -> Result<indexmap::IndexMap<String, String>, String> {
    let mut config = indexmap::IndexMap::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--config `{pair}`: expected NAME=VALUE"))?;
        config.insert(k.to_owned(), v.to_owned());
    }
    Ok(config)
}

fn run(args: RunArgs) -> ExitCode {
    let config = match parse_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(INPUT_ERROR);
        }
    };
    let tags = match args
        .tags
        .iter()
        .map(|t| testwerk_store::tags::parse_tag(t))
        .collect::<Result<std::collections::BTreeMap<_, _>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --tag: {e}");
            return ExitCode::from(INPUT_ERROR);
        }
    };
    let pass_on = args.pass_on();
    let request = testwerk_cli::run::RunRequest {
        pass_on,
        workflows: args.workflows,
        child_of: args.child_of,
        execution_id: args.execution_id,
        netns: args.netns,
        tags,
        file: args.file,
        workflow: args.workflow,
        templates: args.templates,
        config,
        json: matches!(args.output, RunOutput::Json),
        store: args.store,
        keep: args.keep,
        host: args.host,
        registry: args.registry.options(),
        image_cache: args.image_cache,
        server: args.server,
        reconnect_timeout: std::time::Duration::from_secs(args.reconnect_timeout),
        git_mirrors: args.git_mirror,
        artifacts: args.storage.flags(),
    };
    ExitCode::from(testwerk_cli::run::run(&request).code())
}

fn control(action: Action, args: &ControlArgs) -> ExitCode {
    let verb = match action {
        Action::Pause => "pause",
        Action::Resume => "resume",
        Action::Abort => "abort",
    };
    let done = match &args.server {
        Some(server) => testwerk_cli::remote::control(server, &args.id, verb),
        None => testwerk_cli::run::control::control(args.store.as_deref(), &args.id, action),
    };
    match done {
        Ok(name) => ExitCode::from(output::print(&format!("{verb}: {name}\n"))),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn agent(args: AgentArgs) -> ExitCode {
    let settings = match pipeline::registry_settings(&args.registry.options()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(INPUT_ERROR);
        }
    };
    let defaults = pipeline::default_images();
    let config = testwerk_agent::AgentConfig {
        namespace: args.namespace,
        listen: args.listen,
        store: args.store,
        images: OwnImages {
            init: args.init_image.unwrap_or(defaults.init),
            toolkit: args.toolkit_image.unwrap_or(defaults.toolkit),
            delivery: Default::default(),
        },
        registry: settings,
        cleanup: match args.cleanup {
            CleanupArg::Always => testwerk_agent::Cleanup::Always,
            CleanupArg::KeepFailed => testwerk_agent::Cleanup::KeepFailed,
            CleanupArg::Never => testwerk_agent::Cleanup::Never,
        },
        install_crds: !args.no_install_crds,
        execution_service_account: args.execution_service_account,
        unschedulable_limit: std::time::Duration::from_secs(args.unschedulable_timeout),
        git_mirrors: args.git_mirror,
        artifact_storage: args.storage.flags(),
        advertise_url: args.advertise_url,
        max_running: args.max_running,
        leader_election: args.leader_election,
        image_volumes: match args.image_volumes {
            ImageVolumesArg::Auto => testwerk_agent::image_volumes::ImageVolumes::Auto,
            ImageVolumesArg::On => testwerk_agent::image_volumes::ImageVolumes::On,
            ImageVolumesArg::Off => testwerk_agent::image_volumes::ImageVolumes::Off,
        },
    };
    // The agent logs through `tracing`: `RUST_LOG` picks levels and targets (default: info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(testwerk_agent::run(
        config,
        testwerk_cli::ui::agent_surface(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn image_pull(reference: &str, registry: &RegistryArgs, cache: Option<PathBuf>) -> ExitCode {
    let store = match testwerk_cli::pull::open_store(&registry.options(), cache) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(INPUT_ERROR);
        }
    };
    match testwerk_cli::pull::pull(&store, reference) {
        Ok(image) => ExitCode::from(output::print(&testwerk_cli::pull::describe(&image))),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn image_inspect(reference: &str, registry: &RegistryArgs, output: Output) -> ExitCode {
    let found = pipeline::registry_client(&registry.options())
        .and_then(|client| pipeline::inspect_image(&client, reference));
    match found {
        Ok(doc) => {
            let text = match output {
                Output::Json => serde_json::to_string_pretty(&doc).unwrap_or_default(),
                Output::Yaml => match pipeline::to_yaml(&doc) {
                    Ok(text) => text,
                    Err(e) => {
                        eprintln!("error: cannot print YAML: {e}");
                        return ExitCode::from(1);
                    }
                },
            };
            ExitCode::from(output::print(&format!("{}\n", text.trim_end())))
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn compile(args: CompileArgs) -> ExitCode {
    let mut stderr = std::io::stderr();
    let static_images;
    let registry;
    let image_source: &dyn ImageSource = match &args.images {
        Some(path) => {
            let loaded = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| StaticImages::from_yaml(&t));
            match loaded {
                Ok(table) => {
                    static_images = table;
                    &static_images
                }
                Err(e) => {
                    let _ = writeln!(stderr, "error: --images {}: {e}", path.display());
                    return ExitCode::from(INPUT_ERROR);
                }
            }
        }
        None => match pipeline::registry_client(&args.registry.options()) {
            Ok(client) => {
                registry = client;
                &registry
            }
            Err(e) => {
                let _ = writeln!(stderr, "error: {e}");
                return ExitCode::from(INPUT_ERROR);
            }
        },
    };
    let config = match parse_config(&args.config) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            return ExitCode::from(INPUT_ERROR);
        }
    };
    let defaults = pipeline::default_images();
    let settings = pipeline::CompileSettings {
        namespace: args.namespace.clone(),
        images: OwnImages {
            init: args.init_image.clone().unwrap_or(defaults.init),
            toolkit: args.toolkit_image.clone().unwrap_or(defaults.toolkit),
            delivery: if args.image_volumes {
                testwerk_plan::BinaryDelivery::ImageVolume
            } else {
                testwerk_plan::BinaryDelivery::Copy
            },
        },
        image_source,
        execution_id: args.execution_id.clone(),
        execution: None,
        config,
        target: pipeline::Target::Kubernetes,
        toolkit: None,
    };

    let inputs = match pipeline::load_inputs(&args.file, &args.templates) {
        Ok(i) => i,
        Err(diagnostics) => {
            for d in diagnostics {
                let _ = writeln!(stderr, "{d}\n");
            }
            return ExitCode::from(INPUT_ERROR);
        }
    };
    let selected: Vec<_> = inputs
        .workflows
        .iter()
        .filter(|w| {
            args.workflow
                .as_ref()
                .is_none_or(|n| w.value.metadata.name.as_ref() == Some(n))
        })
        .collect();
    if selected.is_empty() {
        let what = match &args.workflow {
            Some(n) => format!("no TestWorkflow named `{n}` in {}", args.file.display()),
            None => format!("no TestWorkflow in {}", args.file.display()),
        };
        let _ = writeln!(stderr, "error: {what}");
        return ExitCode::from(INPUT_ERROR);
    }

    let mut failed = false;
    let mut json_out = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for doc in selected {
        match pipeline::compile(doc, &inputs.templates, &settings) {
            Ok(compiled) => {
                if args.plan {
                    let _ = write!(
                        stdout,
                        "{}",
                        testwerk_plan::explain::explain(&compiled.plan)
                    );
                    continue;
                }
                let mut objects = compiled.bundle.objects();
                if !args.reveal_secrets {
                    render::redact_secrets(&mut objects);
                }
                match args.output {
                    Output::Yaml => match render::yaml(&objects) {
                        Ok(text) => {
                            let _ = writeln!(stdout, "# workflow: {}", compiled.name);
                            let _ = write!(stdout, "{text}");
                        }
                        Err(e) => {
                            failed = true;
                            let _ = writeln!(stderr, "error: cannot print YAML: {e}");
                        }
                    },
                    Output::Json => json_out
                        .push(serde_json::json!({"name": compiled.name, "objects": objects})),
                }
            }
            Err(diagnostics) => {
                failed = true;
                for d in diagnostics {
                    let _ = writeln!(stderr, "{d}\n");
                }
            }
        }
    }
    if matches!(args.output, Output::Json) && !args.plan {
        let doc = serde_json::json!({ "workflows": json_out });
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    }
    if failed {
        ExitCode::from(INPUT_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
