//! Our CRDs on the cluster: applied (server-side) when the agent may, otherwise checked, so a
//! missing CRD is a clear start-up error instead of failing watches.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

pub async fn ensure(client: &Client, install: bool) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in testwerk_spec::crds() {
        let name = crd
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        if install {
            let params = PatchParams::apply("testwerk-agent").force();
            api.patch(&name, &params, &Patch::Apply(&crd))
                .await
                .map_err(|e| format!("installing CRD {name}: {e}"))?;
        }
        wait_established(&api, &name, install).await?;
    }
    Ok(())
}

async fn wait_established(
    api: &Api<CustomResourceDefinition>,
    name: &str,
    installed: bool,
) -> Result<(), String> {
    for _ in 0..100 {
        let crd = api
            .get_opt(name)
            .await
            .map_err(|e| format!("reading CRD {name}: {e}"))?;
        let Some(crd) = crd else {
            return Err(format!(
                "CRD {name} is not installed: apply `testwerk crds` (or deploy/crds.yaml), or start the agent with --install-crds"
            ));
        };
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return Ok(());
        }
        if !installed {
            return Err(format!("CRD {name} exists but is not established"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("CRD {name} was not established within 10 s"))
}
