using System.ComponentModel.DataAnnotations;

namespace CimAspire.ZooKeeper.Registry;

/// <summary>Where IM servers register (configuration section <c>Cim:Registry</c>).</summary>
public sealed class ServerRegistryOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "Cim:Registry";

    /// <summary>The parent node of the registrations; created (with its parents) when missing.</summary>
    [Required]
    [RegularExpression("^(/[^/]+)+$", ErrorMessage = "Cim:Registry:Root must be an absolute ZooKeeper path such as /cim/servers.")]
    public string Root { get; set; } = "/cim/servers";
}
