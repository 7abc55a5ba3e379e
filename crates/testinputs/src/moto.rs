//! moto's server (`python -m moto.server`), the S3 and AWS emulator, on 127.0.0.1 for a test.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python -m moto.server` on a free port of 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    python: PathBuf,
    /// `http://127.0.0.1:PORT` (or `https://` from [`Moto::start_tls`]).
    pub endpoint: String,
}

impl Moto {
    /// Over HTTP; `None` (a counted skip, a failure under `CI`) without moto.
    #[track_caller]
    pub fn start() -> Option<Moto> {
        Moto::spawn(false)
    }

    /// Over HTTPS, with moto's own self-signed certificate.
    #[track_caller]
    pub fn start_tls() -> Option<Moto> {
        Moto::spawn(true)
    }

    #[track_caller]
    fn spawn(tls: bool) -> Option<Moto> {
        let python = crate::moto_python()?;
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        let mut args = vec!["-m", "moto.server", "-H", "127.0.0.1"];
        if tls {
            args.push("-s");
        }
        let mut child = Command::new(&python)
            .args(&args)
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto exited early: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            child,
            python,
            endpoint: format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" }),
        })
    }

    /// Creates `bucket`, with boto3 (which moto brings).
    pub fn create_bucket(&self, bucket: &str) {
        self.boto3(
            "s3.create_bucket(Bucket=sys.argv[2])",
            &[bucket],
            "create the bucket",
        );
    }

    /// The bytes of `key` in `bucket`, read by another S3 client (boto3); `None` when absent.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let script = "import sys, boto3\n\
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='x', verify=False)\n\
try:\n    body = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read()\n\
except s3.exceptions.NoSuchKey:\n    sys.exit(3)\n\
sys.stdout.buffer.write(body)\n";
        let out = Command::new(&self.python)
            .args(["-c", script, &self.endpoint, bucket, key])
            .output()
            .unwrap_or_else(|e| panic!("boto3: {e}"));
        match out.status.code() {
            Some(0) => Some(out.stdout),
            Some(3) => None,
            _ => panic!("boto3: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// The keys in `bucket` (boto3).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self.boto3(
            "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=sys.argv[2]).get('Contents', [])))",
            &[bucket],
            "list the bucket",
        );
        out.lines().map(str::to_owned).collect()
    }

    fn boto3(&self, call: &str, args: &[&str], what: &str) -> String {
        let script = format!(
            "import sys, boto3\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='x', verify=False)\n{call}\n"
        );
        let out = Command::new(&self.python)
            .args(["-c", &script, &self.endpoint])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("boto3: {e}"));
        assert!(
            out.status.success(),
            "boto3 could not {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Our own child: kill and reap it.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
