//! The lint rules, one per file. Codes are stable: a retired rule keeps its number unused.

use super::Rule;

mod pt101_one_primary;
mod pt102_duplicate_names;
mod pt103_sync_count;
mod pt104_dangling_reference;
mod pt105_env_drops_required_node;
mod pt106_pdb_blocks_drain;
mod pt107_requests_exceed_limits;
mod pt108_port_collision;
mod pt109_vip_router_id;
mod pt110_balancer_priorities;
mod pt111_replication_capacity;
mod pt112_pooler_connections;
mod pt113_unknown_parameter;
mod pt114_plaintext_password;
mod pt115_unpinned_image_in_prod;
mod pt116_target_cannot_express;
mod pt117_vip_without_redundancy;
mod pt118_vip_outside_subnet;
mod pt119_listen_without_nodes;
mod pt120_kubernetes_patroni;
mod pt121_kubernetes_node_ports;
mod pt122_kubernetes_cascading;
mod pt123_kubernetes_standby_manager;
mod pt131_balancer_node_without_host;
mod pt132_patroni_without_dcs;
mod pt133_patroni_port_collision;
mod pt134_vm_local_pgpool;
mod pt135_patroni_quorum;
mod pt136_empty_balancer;
mod pt137_vrrp_collision;
mod pt138_max_lag_without_patroni;
mod pt140_compose_cannot_express;
mod pt141_compose_service_name;
mod pt150_helm_sync_replication;
mod pt151_helm_image;
mod pt152_helm_pooler;
mod pt153_helm_node_settings;
mod pt154_helm_chart_shape;
mod pt155_helm_access;
pub(crate) mod pt160_invalid_name;
mod pt161_cluster_too_large;
mod pt162_hba_unreachable_rule;
mod pt163_unknown_role;
mod pt164_cert_without_verify_full;
mod pt165_prod_without_tls;
mod pt166_patroni_timing;
mod pt170_pgtopo_owned_parameter;
mod pt171_control_character;
mod pt172_target_drops_property;
mod pt173_parameter_value;
mod pt175_moved_image;
mod pt176_pg_auto_failover_sync;
mod pt180_backup_archive_folder;
mod pt181_backup_schedule;
mod pt182_backup_repository;
mod pt183_restore_source;
mod pt184_backup_tool;

pub const RULES: &[Rule] = &[
    pt101_one_primary::RULE,
    pt102_duplicate_names::RULE,
    pt103_sync_count::RULE,
    pt104_dangling_reference::RULE,
    pt105_env_drops_required_node::RULE,
    pt106_pdb_blocks_drain::RULE,
    pt107_requests_exceed_limits::RULE,
    pt108_port_collision::RULE,
    pt109_vip_router_id::RULE,
    pt110_balancer_priorities::RULE,
    pt111_replication_capacity::RULE,
    pt112_pooler_connections::RULE,
    pt113_unknown_parameter::RULE,
    pt114_plaintext_password::RULE,
    pt115_unpinned_image_in_prod::RULE,
    pt116_target_cannot_express::RULE,
    pt117_vip_without_redundancy::RULE,
    pt118_vip_outside_subnet::RULE,
    pt119_listen_without_nodes::RULE,
    pt120_kubernetes_patroni::RULE,
    pt121_kubernetes_node_ports::RULE,
    pt122_kubernetes_cascading::RULE,
    pt123_kubernetes_standby_manager::RULE,
    pt131_balancer_node_without_host::RULE,
    pt132_patroni_without_dcs::RULE,
    pt133_patroni_port_collision::RULE,
    pt134_vm_local_pgpool::RULE,
    pt135_patroni_quorum::RULE,
    pt136_empty_balancer::RULE,
    pt137_vrrp_collision::RULE,
    pt138_max_lag_without_patroni::RULE,
    pt140_compose_cannot_express::RULE,
    pt141_compose_service_name::RULE,
    pt150_helm_sync_replication::RULE,
    pt151_helm_image::RULE,
    pt152_helm_pooler::RULE,
    pt153_helm_node_settings::RULE,
    pt154_helm_chart_shape::RULE,
    pt155_helm_access::RULE,
    pt160_invalid_name::RULE,
    pt161_cluster_too_large::RULE,
    pt162_hba_unreachable_rule::RULE,
    pt163_unknown_role::RULE,
    pt164_cert_without_verify_full::RULE,
    pt165_prod_without_tls::RULE,
    pt166_patroni_timing::RULE,
    pt170_pgtopo_owned_parameter::RULE,
    pt171_control_character::RULE,
    pt172_target_drops_property::RULE,
    pt173_parameter_value::RULE,
    pt180_backup_archive_folder::RULE,
    pt181_backup_schedule::RULE,
    pt182_backup_repository::RULE,
    pt183_restore_source::RULE,
    pt184_backup_tool::RULE,
    pt175_moved_image::RULE,
    pt176_pg_auto_failover_sync::RULE,
];
