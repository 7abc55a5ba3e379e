use super::*;
use serde_json::json;
use testwerk_expr::NoMachine;

fn strategy(v: Value) -> Strategy {
    serde_json::from_value(v).expect("a strategy")
}

fn all(v: Value) -> Vec<Instance> {
    instances(&strategy(v), &NoMachine, DEFAULT_LIMIT).expect("instances")
}

#[test]
fn nothing_means_one_instance() {
    let list = all(json!({}));
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].index, list[0].count, list[0].shard_count),
        (0, 1, 1)
    );
}

#[test]
fn ten_items_in_three_shards_are_dealt_four_three_three() {
    // Spec §10.6, fixture 59.
    let items: Vec<Value> = (0..10).map(Value::from).collect();
    let list = all(json!({"count": 3, "shards": {"n": items}}));
    let sizes: Vec<usize> = list.iter().map(|i| i.shard["n"].len()).collect();
    assert_eq!(sizes, [4, 3, 3]);
    assert_eq!(
        list[0].shard["n"],
        (0..4).map(Value::from).collect::<Vec<_>>()
    );
    assert_eq!(
        list[2].shard["n"],
        (7..10).map(Value::from).collect::<Vec<_>>()
    );
    // More shards than items: the extra ones are empty.
    let list = all(json!({"count": 5, "shards": {"n": [1, 2, 3]}}));
    let sizes: Vec<usize> = list.iter().map(|i| i.shard["n"].len()).collect();
    assert_eq!(sizes, [1, 1, 1, 0, 0]);
}

#[test]
fn a_matrix_times_a_count_gives_every_shard_of_every_combination() {
    // Spec §10.6, fixture 60.
    let list = all(json!({"count": 2, "matrix": {"a": [1, 2], "b": ["x", "y", "z"]}}));
    assert_eq!(list.len(), 12);
    for i in &list {
        assert_eq!(i.shard_index, i.index % 2);
        assert_eq!(i.matrix_index, i.index / 2);
        assert_eq!((i.count, i.matrix_count, i.shard_count), (12, 6, 2));
    }
    let combos: Vec<(Value, Value)> = list
        .iter()
        .step_by(2)
        .map(|i| (i.matrix["a"].clone(), i.matrix["b"].clone()))
        .collect();
    assert_eq!(
        combos,
        [
            (json!(1), json!("x")),
            (json!(1), json!("y")),
            (json!(1), json!("z")),
            (json!(2), json!("x")),
            (json!(2), json!("y")),
            (json!(2), json!("z")),
        ]
    );
}

#[test]
fn max_count_caps_the_count_and_alone_follows_the_shortest_list() {
    assert_eq!(all(json!({"count": 5, "maxCount": 2})).len(), 2);
    assert_eq!(all(json!({"count": 2, "maxCount": 5})).len(), 2);
    let list = all(json!({"maxCount": 10, "shards": {"a": [1, 2, 3], "b": [1, 2, 3, 4]}}));
    assert_eq!(list.len(), 3);
    assert_eq!(
        all(json!({"maxCount": 2, "shards": {"a": [1, 2, 3]}})).len(),
        2
    );
    assert!(all(json!({"count": 0})).is_empty());
}

#[test]
fn empty_lists_leave_the_matrix() {
    let list = all(json!({"matrix": {"a": [], "b": [1, 2]}}));
    assert_eq!(list.len(), 2);
    assert!(!list[0].matrix.contains_key("a"));
}

#[test]
fn expressions_and_templates_are_evaluated_with_the_callers_machine() {
    let config = MapMachine::with_prefix(
        "config",
        [
            ("workers", json!(3)),
            ("browsers", json!(["chrome", "firefox"])),
            ("suffix", json!("-x")),
        ],
    );
    let s = strategy(json!({
        "count": "config.workers - 1",
        "matrix": {"browser": "{{ config.browsers }}", "tag": ["a{{ config.suffix }}"]},
    }));
    let list = instances(&s, &config, DEFAULT_LIMIT).expect("instances");
    assert_eq!(list.len(), 4);
    assert_eq!(list[3].matrix["browser"], json!("firefox"));
    assert_eq!(list[0].matrix["tag"], json!("a-x"));
}

#[test]
fn bad_values_name_their_field() {
    let err = |v: Value| instances(&strategy(v), &NoMachine, DEFAULT_LIMIT).expect_err("an error");
    let e = err(json!({"count": -1}));
    assert_eq!(e.field, "count");
    assert!(e.message.contains("whole number"), "{e}");
    let e = err(json!({"count": "1.5"}));
    assert_eq!(e.field, "count");
    let e = err(json!({"matrix": {"os": "'linux'"}}));
    assert_eq!(e.field, "matrix.os");
    assert!(e.message.contains("not a list"), "{e}");
    let e = err(json!({"shards": {"f": "unknown.thing"}}));
    assert_eq!(e.field, "shards.f");
}

#[test]
fn too_many_instances_are_refused_before_anything_is_built() {
    let big: Vec<u32> = (0..1000).collect();
    let e = instances(
        &strategy(json!({"matrix": {"a": big, "b": big}})),
        &NoMachine,
        DEFAULT_LIMIT,
    )
    .expect_err("too many");
    assert_eq!(e.field, "matrix.b");
    assert!(e.message.contains("more than 1000"), "{e}");
    let e = instances(
        &strategy(json!({"count": "1e18"})),
        &NoMachine,
        DEFAULT_LIMIT,
    )
    .expect_err("too many");
    assert_eq!(e.field, "count");
}

#[test]
fn an_instance_resolves_its_variables_in_a_spec_and_leaves_the_rest() {
    let list =
        all(json!({"count": 2, "matrix": {"browser": ["chrome"]}, "shards": {"f": [1, 2, 3]}}));
    let mut spec = json!({
        "steps": [{"shell": "echo {{ index + 1 }}/{{ count }} {{ matrix.browser }} {{ join(shard.f, ' ') }} {{ env.HOME }}"}],
        "name": "plain",
    });
    substitute(&mut spec, &list[1].machine()).expect("substitute");
    assert_eq!(
        spec["steps"][0]["shell"],
        json!("echo 2/2 chrome 3 {{env.HOME}}")
    );
    assert_eq!(spec["name"], json!("plain"));
}
