using CimAspire.Benchmarks.Cli;

namespace CimAspire.Benchmarks.Scenarios;

public static class ScenarioCatalog
{
    public static IScenario Create(string name) => name switch
    {
        ScenarioNames.SignalR => new SignalRRelayScenario(),
        ScenarioNames.Transient => new TransientRelayScenario(),
        _ => throw new OptionsException($"Scenario '{name}' is not available in this build."),
    };
}
