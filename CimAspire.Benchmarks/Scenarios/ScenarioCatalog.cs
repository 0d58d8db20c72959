using CimAspire.Benchmarks.Cli;

namespace CimAspire.Benchmarks.Scenarios;

public static class ScenarioCatalog
{
    public static IScenario Create(string name) => name switch
    {
        ScenarioNames.SignalR => new SignalRRelayScenario(),
        ScenarioNames.Transient => new TransientRelayScenario(),
        ScenarioNames.Persisted => new PersistedScenario(),
        ScenarioNames.Fanout => new FanoutScenario(),
        ScenarioNames.Idle => new IdleDensityScenario(),
        ScenarioNames.Reconnect => new ReconnectStormScenario(),
        ScenarioNames.Failover => new FaultScenario(ScenarioNames.Failover, Fault.KillImServer, fullClients: 10_000, fullRate: 1_000),
        ScenarioNames.ChaosImServer => new FaultScenario(ScenarioNames.ChaosImServer, Fault.KillImServer, fullClients: 200, fullRate: 500),
        ScenarioNames.ChaosRoute => new FaultScenario(ScenarioNames.ChaosRoute, Fault.KillRouteReplica, fullClients: 200, fullRate: 500),
        ScenarioNames.ChaosRedis => new FaultScenario(ScenarioNames.ChaosRedis, Fault.RestartRedis, fullClients: 200, fullRate: 500),
        ScenarioNames.ChaosZooKeeper => new FaultScenario(ScenarioNames.ChaosZooKeeper, Fault.RestartZooKeeper, fullClients: 200, fullRate: 500),
        ScenarioNames.ChaosZooKeeperSession => new FaultScenario(ScenarioNames.ChaosZooKeeperSession, Fault.ExpireZooKeeperSession, fullClients: 200, fullRate: 500),
        _ => throw new OptionsException($"Unknown scenario '{name}'."),
    };
}
