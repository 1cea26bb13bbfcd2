//! The ruleset value, rule by rule, against the semantics of ARCHITECTURE.md "The form".
use std::collections::BTreeMap;

use podwall_ir::{
    Action as IrAction, Cluster, Direction, Endpoint, EndpointKind, HttpMatch, Icmp, IpVersion, Label, NamedPort,
    Namespace, Peer, Policy, PolicyKind, PolicySet, PortMatch, Ports, Protocol, Rule as IrRule, Tier, TierDefault,
};

use super::*;

fn pod(name: &str, ip: &str, app: &str) -> Endpoint {
    Endpoint {
        name: format!("ns/{name}"),
        namespace: "ns".into(),
        labels: [("app".to_string(), app.to_string())].into(),
        ip: Some(ip.parse().unwrap()),
        addresses: vec![ip.parse().unwrap()],
        ports: vec![],
        service_account: "default".into(),
        host_network: false,
        kind: EndpointKind::Pod,
        owner: None,
        source: None,
    }
}

fn app(v: &str) -> Expr {
    Expr::Eq(Label::pod("app"), v.into())
}

use podwall_ir::Expr;

fn cluster(mut endpoints: Vec<Endpoint>, tiers: Vec<Tier>) -> Cluster {
    endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    Cluster {
        namespaces: BTreeMap::from([("ns".to_string(), Namespace::implied("ns"))]),
        endpoints,
        policies: PolicySet::new(tiers),
        ..Cluster::default()
    }
}

fn tier(name: &str, order: f64, default_action: TierDefault, policies: Vec<Policy>) -> Tier {
    Tier { name: name.into(), order: Some(order), default_action, policies }
}

fn policy(name: &str, order: f64, selector: Expr, ingress: Option<Vec<IrRule>>, egress: Option<Vec<IrRule>>) -> Policy {
    Policy {
        kind: PolicyKind::CalicoGlobalNetworkPolicy,
        namespace: None,
        name: name.into(),
        source: None,
        order: Some(order),
        selector,
        ingress,
        egress,
    }
}

fn rule(action: IrAction, index: usize) -> IrRule {
    IrRule::any(action, index)
}

fn from(sel: Expr, action: IrAction) -> IrRule {
    let mut r = rule(action, 0);
    r.source.peers = vec![Peer { selector: Some(sel), ..Peer::any() }];
    r
}

fn tcp(port: u16) -> PortMatch {
    PortMatch { protocol: Some(Protocol::TCP), ports: Ports::Range(port, port) }
}

fn build(c: &Cluster) -> Ruleset {
    compile(c, &default_attachments(c), &Options::default()).unwrap()
}

fn id(c: &Cluster, name: &str) -> EndpointId {
    c.endpoint(&format!("ns/{name}")).unwrap()
}

fn only_tier(c: Cluster) -> (Cluster, Ruleset) {
    let r = build(&c);
    (c, r)
}

#[test]
fn endpoints_in_one_policy_situation_share_their_chains() {
    let p = policy("web", 1.0, app("web"), Some(vec![from(app("client"), IrAction::Allow)]), None);
    let (c, r) = only_tier(cluster(
        vec![pod("web-1", "10.0.0.1", "web"), pod("web-2", "10.0.0.2", "web"), pod("client", "10.0.0.3", "client")],
        vec![tier("t", 1.0, TierDefault::Deny, vec![p])],
    ));
    let a = r.dispatch(id(&c, "web-1")).unwrap();
    let b = r.dispatch(id(&c, "web-2")).unwrap();
    assert!(a.ingress.is_some());
    assert_eq!(a.ingress, b.ingress);
    assert_eq!(r.chains.len(), 1, "{:#?}", r.chains);
    // Who uses a chain is said by the dispatch map's elements.
    let text = r.render();
    for (pod, d) in [("ns/web-1", a), ("ns/web-2", b)] {
        let element = format!("\"{}\" comment \"{pod}\" : jump {}", d.interface, r.chains[0].name);
        assert!(text.contains(&element), "{element} in {text}");
    }
    // The client is selected by no policy: no chain, no verdict-map entry.
    let client = r.dispatch(id(&c, "client")).unwrap();
    assert_eq!((&client.egress, &client.ingress), (&None, &None));
    assert!(!text.contains(&format!("\"{}\" : jump", client.interface)), "{text}");
}

#[test]
fn egress_allow_returns_so_that_the_destination_ingress_still_runs() {
    let mut allow = rule(IrAction::Allow, 0);
    allow.destination.ports = vec![tcp(80)];
    let p = policy("p", 1.0, app("web"), Some(vec![allow.clone()]), Some(vec![allow]));
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let web = id(&c, "web");
    let egress = r.entry_chain(web, Direction::Egress).unwrap();
    assert_eq!(egress.rules[0].action, Action::Return);
    assert_eq!(egress.rules[0].matches, [Match::Ports(vec![(6, 80, 80)])]);
    let ingress = r.entry_chain(web, Direction::Ingress).unwrap();
    assert_eq!(ingress.rules[0].action, Action::Accept);
    // Deny default at the end of each.
    assert_eq!(egress.rules.last().unwrap().action, Action::Drop);
    assert!(egress.rules.last().unwrap().matches.is_empty());
    assert!(r.render().contains("tcp dport 80 return comment"));
}

#[test]
fn pass_leaves_the_tier_for_the_next_applicable_tier() {
    let pass = policy("first", 1.0, app("web"), Some(vec![from(app("client"), IrAction::Pass)]), None);
    let deny_all = policy("second", 1.0, app("web"), Some(vec![]), None);
    let other = policy("unrelated", 1.0, app("nobody"), Some(vec![rule(IrAction::Allow, 0)]), None);
    let (c, r) = only_tier(cluster(
        vec![pod("web", "10.0.0.1", "web"), pod("client", "10.0.0.2", "client")],
        vec![
            tier("a", 1.0, TierDefault::Deny, vec![pass]),
            tier("b", 2.0, TierDefault::Deny, vec![other]),
            tier("c", 3.0, TierDefault::Deny, vec![deny_all]),
        ],
    ));
    let chains = r.chains_of(id(&c, "web"), Direction::Ingress);
    let tiers: Vec<usize> = chains.iter().map(|ch| ch.tier).collect();
    // Tier b selects nothing here: it does not apply and gets no chain.
    assert_eq!(tiers, [0, 2]);
    assert_eq!(chains[0].rules[0].action, Action::Goto(chains[1].name.clone()));
    assert_eq!(chains[0].rules.last().unwrap().action, Action::Drop, "tier a still denies by default");
    assert!(r.render().contains(&format!("goto {}", chains[1].name)));
}

#[test]
fn a_tier_whose_default_is_pass_continues_and_the_last_one_allows() {
    let first = policy("first", 1.0, app("web"), Some(vec![]), Some(vec![]));
    let last = policy("last", 1.0, app("web"), Some(vec![]), Some(vec![]));
    let (c, r) = only_tier(cluster(
        vec![pod("web", "10.0.0.1", "web")],
        vec![tier("a", 1.0, TierDefault::Pass, vec![first]), tier("b", 2.0, TierDefault::Pass, vec![last])],
    ));
    let web = id(&c, "web");
    let ingress = r.chains_of(web, Direction::Ingress);
    assert_eq!(ingress.len(), 2);
    assert_eq!(ingress[0].rules.last().unwrap().action, Action::Goto(ingress[1].name.clone()));
    // No tier decided: the profile allows — accept on ingress, return on egress.
    assert_eq!(ingress[1].rules.last().unwrap().action, Action::Accept);
    let egress = r.chains_of(web, Direction::Egress);
    assert_eq!(egress[1].rules.last().unwrap().action, Action::Return);
}

#[test]
fn log_rule_logs_with_a_prefix_naming_tier_policy_and_rule_and_goes_on() {
    let mut log = from(app("client"), IrAction::Log);
    log.index = 0;
    let mut allow = from(app("client"), IrAction::Allow);
    allow.index = 1;
    let p = policy("audit", 1.0, app("web"), Some(vec![log, allow]), None);
    let (c, r) = only_tier(cluster(
        vec![pod("web", "10.0.0.1", "web"), pod("client", "10.0.0.2", "client")],
        vec![tier("sec", 1.0, TierDefault::Deny, vec![p])],
    ));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    let Action::Log { prefix } = &chain.rules[0].action else { panic!("{:?}", chain.rules[0]) };
    assert!(prefix.contains("sec") && prefix.contains("audit") && prefix.contains("rule 1"), "{prefix}");
    assert_eq!(chain.rules[1].action, Action::Accept);
    assert_eq!(chain.rules[1].origin, Some(Origin { tier: 0, policy: Some(0), rule: 1 }));
    assert!(r.render().contains("log prefix \"podwall sec: GlobalNetworkPolicy audit ingress rule 1: \""));
}

#[test]
fn selector_peers_resolve_to_every_matching_endpoint_of_the_cluster() {
    let p = policy("p", 1.0, app("web"), Some(vec![from(app("client"), IrAction::Allow)]), None);
    let c = cluster(
        vec![
            pod("web", "10.0.0.1", "web"),
            pod("client-a", "10.0.0.7", "client"),
            pod("client-b", "10.0.0.9", "client"),
        ],
        vec![tier("t", 1.0, TierDefault::Deny, vec![p])],
    );
    // Only the web pod lives on this node; the clients still resolve.
    let web = id(&c, "web");
    let att = [Attachment { endpoint: web, interface: "pw1".into(), addresses: vec!["10.0.0.1".parse().unwrap()] }];
    let r = compile(&c, &att, &Options::default()).unwrap();
    let chain = r.entry_chain(web, Direction::Ingress).unwrap();
    let Match::Address { side: Side::Source, family: Family::V4, set, negated: false } = &chain.rules[0].matches[0]
    else {
        panic!("{:?}", chain.rules[0]);
    };
    assert_eq!(r.set(set).unwrap().elements, ["10.0.0.7", "10.0.0.9"]);
}

#[test]
fn a_peer_whose_selector_matches_nothing_never_matches() {
    let p = policy("p", 1.0, app("web"), Some(vec![from(app("ghost"), IrAction::Allow)]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    assert_eq!(chain.rules.len(), 1, "only the tier's default: {:?}", chain.rules);
}

#[test]
fn nets_with_exceptions_become_one_interval_set() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.destination.peers = vec![Peer {
        nets: vec!["10.0.0.0/8".parse().unwrap()],
        not_nets: vec!["10.1.0.0/16".parse().unwrap()],
        ..Peer::any()
    }];
    let p = policy("p", 1.0, app("web"), None, Some(vec![r0]));
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Egress).unwrap();
    let Match::Address { side: Side::Destination, set, negated: false, .. } = &chain.rules[0].matches[0] else {
        panic!("{:?}", chain.rules[0]);
    };
    let set = r.set(set).unwrap();
    assert!(set.interval);
    assert_eq!(
        set.elements,
        [
            "10.0.0.0/16",
            "10.2.0.0/15",
            "10.4.0.0/14",
            "10.8.0.0/13",
            "10.16.0.0/12",
            "10.32.0.0/11",
            "10.64.0.0/10",
            "10.128.0.0/9"
        ]
    );
}

#[test]
fn only_excluded_ranges_match_everything_else_of_both_families() {
    let mut r0 = rule(IrAction::Deny, 0);
    r0.source.peers = vec![Peer { not_nets: vec!["192.168.0.0/16".parse().unwrap()], ..Peer::any() }];
    let p = policy("p", 1.0, app("web"), Some(vec![r0]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    // IPv4 outside the range (a negated set), and every IPv6 packet.
    assert_eq!(chain.rules.len(), 3);
    let Match::Address { negated: true, family: Family::V4, set, .. } = &chain.rules[0].matches[0] else {
        panic!("{:?}", chain.rules[0]);
    };
    assert_eq!(r.set(set).unwrap().elements, ["192.168.0.0/16"]);
    assert_eq!(chain.rules[1].matches, [Match::Family(Family::V6)]);
}

/// A pod `app=db` declaring the named port `sql` as TCP `port`.
fn db(name: &str, ip: &str, port: u16) -> Endpoint {
    let mut p = pod(name, ip, "db");
    p.ports = vec![NamedPort { name: Some("sql".into()), protocol: Protocol::TCP, port }];
    p
}

#[test]
fn named_port_resolves_against_each_destination_pod_on_egress() {
    let (db1, db2) = (db("db-1", "10.0.0.5", 5432), db("db-2", "10.0.0.6", 6432));
    let mut r0 = rule(IrAction::Allow, 0);
    r0.destination.ports = vec![PortMatch { protocol: Some(Protocol::TCP), ports: Ports::Named("sql".into()) }];
    let p = policy("p", 1.0, app("web"), None, Some(vec![r0]));
    let (c, r) = only_tier(cluster(
        vec![pod("web", "10.0.0.1", "web"), db1, db2],
        vec![tier("t", 1.0, TierDefault::Deny, vec![p])],
    ));
    let chain = r.entry_chain(id(&c, "web"), Direction::Egress).unwrap();
    let Match::DestinationPorts { family: Family::V4, set, negated: false } = &chain.rules[0].matches[0] else {
        panic!("{:?}", chain.rules[0]);
    };
    assert_eq!(r.set(set).unwrap().elements, ["10.0.0.5 . 6 . 5432", "10.0.0.6 . 6 . 6432"]);
}

#[test]
fn named_port_resolves_against_the_local_pod_on_ingress() {
    let (db1, db2) = (db("db-1", "10.0.0.5", 5432), db("db-2", "10.0.0.6", 6432));
    let mut r0 = rule(IrAction::Allow, 0);
    r0.destination.ports = vec![PortMatch { protocol: None, ports: Ports::Named("sql".into()) }];
    let p = policy("p", 1.0, app("db"), Some(vec![r0]), None);
    let (c, r) = only_tier(cluster(vec![db1, db2], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let one = r.entry_chain(id(&c, "db-1"), Direction::Ingress).unwrap();
    let two = r.entry_chain(id(&c, "db-2"), Direction::Ingress).unwrap();
    assert_ne!(one.name, two.name, "different ports behind one name: different chains");
    assert_eq!(one.rules[0].matches, [Match::Ports(vec![(6, 5432, 5432)])]);
    assert_eq!(two.rules[0].matches, [Match::Ports(vec![(6, 6432, 6432)])]);
}

#[test]
fn not_ports_and_not_protocol_are_subtracted_exactly() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.protocol = Some(Protocol::TCP);
    r0.destination.not_ports = vec![tcp(22)];
    let mut r1 = rule(IrAction::Deny, 1);
    r1.not_protocol = Some(Protocol::UDP);
    let p = policy("p", 1.0, app("web"), Some(vec![r0, r1]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    assert_eq!(chain.rules[0].matches, [Match::Ports(vec![(6, 0, 21), (6, 23, 65535)])]);
    assert_eq!(chain.rules[1].matches, [Match::Protocols { ranges: vec![(17, 17)], negated: true }]);
}

#[test]
fn a_rule_on_source_ports_never_matches() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.source_ports = true;
    let p = policy("p", 1.0, app("web"), Some(vec![r0]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    assert_eq!(chain.rules.len(), 1);
    assert_eq!(chain.rules[0].action, Action::Drop);
}

#[test]
fn http_rules_match_at_layer_four_and_are_warned_about() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.http = Some(HttpMatch { methods: vec!["GET".into()], paths: vec![] });
    let p = policy("p", 1.0, app("web"), Some(vec![r0]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    assert_eq!(chain.rules[0].action, Action::Accept);
    assert!(chain.rules[0].matches.is_empty());
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].contains("HTTP") && r.warnings[0].contains("ingress rule 1"), "{:?}", r.warnings);
}

#[test]
fn ip_version_and_ipv6_peers_use_the_packet_family() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.ip_version = Some(IpVersion::V6);
    let v6 = pod("v6", "fd00::7", "client");
    let mut r1 = from(app("client"), IrAction::Deny);
    r1.index = 1;
    let p = policy("p", 1.0, app("web"), Some(vec![r1, r0]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web"), v6], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    let Match::Address { family: Family::V6, set, .. } = &chain.rules[0].matches[0] else {
        panic!("{:?}", chain.rules)
    };
    assert_eq!(r.set(set).unwrap().elements, ["fd00::7"]);
    assert_eq!(chain.rules[1].matches, [Match::Family(Family::V6)]);
    let text = r.render();
    assert!(text.contains(&format!("ip6 saddr @{set} drop")) && text.contains("meta nfproto ipv6 accept"), "{text}");
}

#[test]
fn icmp_type_and_code_read_the_transport_header() {
    let mut r0 = rule(IrAction::Allow, 0);
    r0.icmp = Some(Icmp { kind: 8, code: Some(0) });
    let mut r1 = rule(IrAction::Deny, 1);
    r1.not_icmp = Some(Icmp { kind: 3, code: None });
    let p = policy("p", 1.0, app("web"), Some(vec![r0, r1]), None);
    let (c, r) =
        only_tier(cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]));
    let chain = r.entry_chain(id(&c, "web"), Direction::Ingress).unwrap();
    let icmp = Match::Protocols { ranges: vec![(1, 1), (58, 58)], negated: false };
    assert_eq!(
        chain.rules[0].matches,
        [icmp.clone(), Match::IcmpType { kind: 8, negated: false }, Match::IcmpCode { code: 0, negated: false }]
    );
    // Not type 3: any other protocol, or ICMP of another type.
    assert_eq!(chain.rules[1].matches, [Match::Protocols { ranges: vec![(1, 1), (58, 58)], negated: true }]);
    assert_eq!(chain.rules[2].matches, [icmp, Match::IcmpType { kind: 3, negated: true }]);
    assert!(render_rule(&chain.rules[0]).starts_with("meta l4proto { icmp, ipv6-icmp } @th,0,8 8 @th,8,8 0 accept"));
}

#[test]
fn anti_spoofing_pairs_each_interface_with_its_addresses() {
    let c = cluster(vec![pod("web", "10.0.0.1", "web")], vec![]);
    let web = id(&c, "web");
    let att = [Attachment {
        endpoint: web,
        interface: "pwweb".into(),
        addresses: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
    }];
    let r = compile(&c, &att, &Options::default()).unwrap();
    let [ifaces, v4, v6] = r.base_sets();
    assert_eq!(ifaces.elements, ["\"pwweb\""]);
    assert_eq!(v4.elements, ["\"pwweb\" . 10.0.0.1"]);
    assert_eq!(v6.elements, ["\"pwweb\" . fd00::1"]);
    let text = r.render();
    assert!(text.starts_with("table inet podwall\ndelete table inet podwall\ntable inet podwall {\n"));
    let forward = &text[text.find("chain forward").unwrap()..];
    let est = forward.find("ct state established,related accept").unwrap();
    let invalid = forward.find("ct state invalid drop").unwrap();
    let spoof = forward.find("iifname @interfaces iifname . ip saddr != @sources4 drop").unwrap();
    assert!(est < invalid && invalid < spoof);
    assert!(forward.contains("iifname @interfaces iifname . ip6 saddr != @sources6 drop"));
}

#[test]
fn bad_attachments_are_refused_with_the_endpoint_named() {
    let c = cluster(vec![pod("a", "10.0.0.1", "x"), pod("b", "10.0.0.2", "x")], vec![]);
    let at = |endpoint, interface: &str| Attachment { endpoint, interface: interface.into(), addresses: vec![] };
    let err = |atts: &[Attachment]| compile(&c, atts, &Options::default()).unwrap_err();
    assert_eq!(err(&[at(7, "pw1")]), CompileError::UnknownEndpoint(7));
    assert_eq!(err(&[at(0, "pw1"), at(0, "pw2")]), CompileError::EndpointTwice("ns/a".into()));
    assert!(matches!(err(&[at(0, "a-very-long-interface")]), CompileError::InterfaceName { .. }));
    assert!(matches!(err(&[at(0, "pw\"1")]), CompileError::InterfaceName { .. }));
    assert!(matches!(err(&[at(0, "pw1"), at(1, "pw1")]), CompileError::InterfaceTwice { .. }));
    let bad_table = compile(&c, &[], &Options { table: "no such".into() }).unwrap_err();
    assert_eq!(bad_table, CompileError::TableName("no such".into()));
}

#[test]
fn interface_names_are_short_stable_and_distinct() {
    let a = interface_name("shop/api");
    assert_eq!(a, interface_name("shop/api"));
    assert_ne!(a, interface_name("shop/web"));
    assert!(a.starts_with("pw") && a.len() == 15, "{a}");
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn output_is_deterministic() {
    let p = policy("p", 1.0, app("web"), Some(vec![from(app("client"), IrAction::Allow)]), None);
    let c = cluster(
        vec![pod("web", "10.0.0.1", "web"), pod("client", "10.0.0.2", "client")],
        vec![tier("t", 1.0, TierDefault::Deny, vec![p])],
    );
    let mut atts = default_attachments(&c);
    let one = compile(&c, &atts, &Options::default()).unwrap().render();
    atts.reverse();
    assert_eq!(one, compile(&c, &atts, &Options::default()).unwrap().render());
}

// Updates (`delta`): the transaction between two compiled states touches only what
// changed.

fn two_situations(db_rule: IrRule) -> Cluster {
    let web = policy("web", 1.0, app("web"), Some(vec![from(app("client"), IrAction::Allow)]), None);
    let db = policy("db", 2.0, app("db"), Some(vec![db_rule]), None);
    cluster(
        vec![
            pod("web", "10.0.0.1", "web"),
            pod("db", "10.0.0.2", "db"),
            pod("client", "10.0.0.3", "client"),
            pod("other", "10.0.0.4", "other"),
        ],
        vec![tier("t", 1.0, TierDefault::Deny, vec![web, db])],
    )
}

#[test]
fn one_compile_is_an_empty_delta_against_itself() {
    let c = two_situations(from(app("web"), IrAction::Allow));
    let (a, b) = (build(&c).installed(), build(&c).installed());
    let d = delta(&a, &b).unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(d.kept_chains, a.chains.len());
    assert_eq!(d.render(), "");
}

#[test]
fn a_changed_policy_replaces_only_the_chains_of_the_pods_it_selects() {
    let before = two_situations(from(app("web"), IrAction::Allow));
    let mut changed = from(app("web"), IrAction::Allow);
    changed.destination.ports = vec![tcp(5432)];
    let after = two_situations(changed);
    let (old, new) = (build(&before), build(&after));
    let d = delta(&old.installed(), &new.installed()).unwrap();
    let web = |r: &Ruleset| r.dispatch(id(&before, "web")).unwrap().ingress.clone().unwrap();
    let db = |r: &Ruleset| r.dispatch(id(&before, "db")).unwrap().ingress.clone().unwrap();
    assert_eq!(web(&old), web(&new), "web's policy did not change: same chain");
    assert_ne!(db(&old), db(&new));
    assert_eq!(d.kept_chains, 1, "{d:#?}");
    assert_eq!(d.new_chains.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), [db(&new)]);
    assert_eq!(d.removed_chains, [db(&old)]);
    assert!(d.refilled_chains.is_empty());
    // Only db's dispatch entry moves, from its old chain to its new one.
    assert_eq!(d.map_changes.len(), 1, "{d:#?}");
    let m = &d.map_changes[0];
    assert_eq!((m.map.as_str(), m.old.as_ref().unwrap().chain.as_str()), ("ingress", db(&old).as_str()));
    assert_eq!(m.new.as_ref().unwrap().chain, db(&new));
    let script = d.render();
    assert!(!script.contains(&web(&old)), "the web chain is not named in the transaction:\n{script}");
    let add = script.find(&format!("add chain inet podwall {}", db(&new))).unwrap();
    let jump = script.find(&format!("jump {}", db(&new))).unwrap();
    let delete = script.find(&format!("delete chain inet podwall {}", db(&old))).unwrap();
    assert!(add < jump && jump < delete, "made before it is used, deleted after its last use:\n{script}");
}

#[test]
fn a_relabelled_peer_is_an_element_change_of_a_set_that_keeps_its_name() {
    let before = two_situations(from(app("web"), IrAction::Allow));
    let mut after = before.clone();
    // `other` becomes a client: selected by no policy, a peer of web's.
    let i = id(&after, "other");
    after.endpoints[i].labels.insert("app".into(), "client".into());
    let (old, new) = (build(&before), build(&after));
    let d = delta(&old.installed(), &new.installed()).unwrap();
    assert!(d.elements_only(), "{d:#?}");
    assert!(d.new_chains.is_empty() && d.removed_chains.is_empty() && d.map_changes.is_empty(), "{d:#?}");
    assert_eq!(d.set_changes.len(), 1, "{d:#?}");
    let c = &d.set_changes[0];
    assert_eq!((c.removed.clone(), c.added.clone()), (vec![], vec!["10.0.0.4".to_string()]));
    assert_eq!(d.element_count(), 1);
    assert_eq!(d.render(), format!("add element inet podwall {} {{ 10.0.0.4 }}\n", c.set));
}

#[test]
fn a_set_that_starts_holding_cidrs_is_another_set() {
    let mut r = rule(IrAction::Allow, 0);
    r.source.peers = vec![Peer { nets: vec!["10.1.0.0/16".parse().unwrap()], ..Peer::any() }];
    let p = policy("p", 1.0, app("web"), Some(vec![r]), None);
    let c = cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]);
    let rs = build(&c);
    assert!(rs.sets.iter().all(|s| s.interval == s.name.starts_with("a4i_")), "{:?}", rs.sets);
}

#[test]
fn sctp_ports_are_enforced_as_sctp_dport() {
    let mut r = rule(IrAction::Allow, 0);
    r.destination.ports = vec![PortMatch { protocol: Some(Protocol::SCTP), ports: Ports::Range(3868, 3868) }];
    let p = policy("p", 1.0, app("web"), Some(vec![r]), None);
    let c = cluster(vec![pod("web", "10.0.0.1", "web")], vec![tier("t", 1.0, TierDefault::Deny, vec![p])]);
    let text = build(&c).render();
    assert!(text.contains("sctp dport 3868 accept"), "{text}");
}

mod incremental {
    //! `Incremental`: a policy change compiles only the situations it touches, and the
    //! ruleset it keeps is the whole compile's.
    use super::*;

    fn three_pods() -> Vec<Endpoint> {
        vec![pod("web", "10.0.0.1", "web"), pod("db", "10.0.0.2", "db"), pod("client", "10.0.0.3", "client")]
    }

    fn base() -> Cluster {
        let web = policy("web", 10.0, app("web"), Some(vec![from(app("client"), IrAction::Allow)]), None);
        let db = policy("db", 20.0, app("db"), Some(vec![from(app("web"), IrAction::Allow)]), None);
        cluster(three_pods(), vec![tier("t", 1.0, TierDefault::Deny, vec![web, db])])
    }

    fn with(c: &Cluster, f: impl FnOnce(&mut Vec<Policy>)) -> Cluster {
        let mut tiers = c.policies.tiers().to_vec();
        f(&mut tiers[0].policies);
        Cluster { policies: PolicySet::new(tiers), ..c.clone() }
    }

    /// Updates `inc` to `c`; checks the result against a whole compile and returns how
    /// the update went.
    fn step(inc: &mut Incremental, c: &Cluster) -> Recompiled {
        let att = default_attachments(c);
        let kept = inc.update(c, &att).unwrap().0.clone();
        assert_eq!(kept, compile(c, &att, &Options::default()).unwrap());
        inc.last().unwrap().clone()
    }

    #[test]
    fn a_policy_edit_compiles_only_the_situations_of_the_endpoints_it_selects() {
        let c = base();
        let mut inc = Incremental::new(Options::default());
        assert!(matches!(step(&mut inc, &c), Recompiled::Whole(_)));
        let edited = with(&c, |ps| ps[1].ingress.as_mut().unwrap()[0].destination.ports = vec![tcp(5432)]);
        // Only db's ingress situation is built again; web's is kept.
        assert_eq!(step(&mut inc, &edited), Recompiled::Changes { policies: 1, situations: 1 });
        let r = inc.ruleset().unwrap();
        let db = r.entry_chain(id(&edited, "db"), Direction::Ingress).unwrap();
        assert!(db.rules[0].matches.contains(&Match::Ports(vec![(6, 5432, 5432)])), "{db:?}");
    }

    #[test]
    fn a_policy_added_first_in_its_tier_moves_the_origins_of_the_others() {
        let c = base();
        let mut inc = Incremental::new(Options::default());
        step(&mut inc, &c);
        let first = policy("aaa", 1.0, app("client"), Some(vec![from(app("web"), IrAction::Allow)]), None);
        let added = with(&c, |ps| ps.push(first));
        assert_eq!(step(&mut inc, &added), Recompiled::Changes { policies: 1, situations: 1 });
        // web's chain was kept, and its rule now points at the policy's new position.
        let web = inc.ruleset().unwrap().entry_chain(id(&added, "web"), Direction::Ingress).unwrap();
        assert_eq!(web.rules[0].origin, Some(Origin { tier: 0, policy: Some(1), rule: 0 }));
    }

    #[test]
    fn a_policy_removed_takes_its_chains_away_and_keeps_the_others() {
        let c = base();
        let mut inc = Incremental::new(Options::default());
        step(&mut inc, &c);
        let removed = with(&c, |ps| drop(ps.remove(0)));
        assert_eq!(step(&mut inc, &removed), Recompiled::Changes { policies: 1, situations: 0 });
        let r = inc.ruleset().unwrap();
        assert_eq!(r.dispatch(id(&removed, "web")).unwrap().ingress, None);
        assert_eq!(r.chains.len(), 1, "{:?}", r.chains);
        let db = r.entry_chain(id(&removed, "db"), Direction::Ingress).unwrap();
        assert_eq!(db.rules[0].origin, Some(Origin { tier: 0, policy: Some(0), rule: 0 }));
        // And back: the same ruleset as at first.
        assert_eq!(step(&mut inc, &c), Recompiled::Changes { policies: 1, situations: 1 });
    }

    #[test]
    fn nothing_changed_compiles_nothing() {
        let c = base();
        let mut inc = Incremental::new(Options::default());
        step(&mut inc, &c);
        // Where a policy was read does not change what it compiles to.
        let moved = with(&c, |ps| ps[0].source = Some(podwall_ir::Source { file: "other.yaml".into(), line: 7 }));
        assert_eq!(step(&mut inc, &moved), Recompiled::Changes { policies: 0, situations: 0 });
    }

    #[test]
    fn a_pod_added_removed_or_relabelled_compiles_whole() {
        let c = base();
        let mut inc = Incremental::new(Options::default());
        step(&mut inc, &c);
        let mut added = c.clone();
        added.endpoints.push(pod("client-2", "10.0.0.4", "client"));
        added.endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(matches!(step(&mut inc, &added), Recompiled::Whole(_)));
        let web_peers = |inc: &Incremental, c: &Cluster| {
            let r = inc.ruleset().unwrap();
            let chain = r.entry_chain(id(c, "web"), Direction::Ingress).unwrap();
            let Match::Address { set, .. } = &chain.rules[0].matches[0] else { panic!("{chain:?}") };
            r.set(set).unwrap().elements.clone()
        };
        assert_eq!(web_peers(&inc, &added), ["10.0.0.3", "10.0.0.4"]);
        let mut relabelled = added.clone();
        let e = id(&relabelled, "client-2");
        relabelled.endpoints[e].labels.insert("app".into(), "other".into());
        assert!(matches!(step(&mut inc, &relabelled), Recompiled::Whole(_)));
        assert_eq!(web_peers(&inc, &relabelled), ["10.0.0.3"]);
        assert!(matches!(step(&mut inc, &c), Recompiled::Whole(_)));
        // After a whole compile, policy changes are incremental again.
        let edited = with(&c, |ps| ps[0].ingress.as_mut().unwrap()[0].destination.ports = vec![tcp(80)]);
        assert_eq!(step(&mut inc, &edited), Recompiled::Changes { policies: 1, situations: 1 });
    }
}
