using CimAspire.AppHost.Infrastructure;
using CimAspire.AppHost.Redis;
using CimAspire.AppHost.ZooKeeper;
using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);

// Redis and ZooKeeper run as containers when Docker or Podman answers, else as local executables (Cim:Infrastructure).
var infrastructure = builder.AddCimInfrastructure();

// Shared secrets: the route API signs access tokens that IM servers verify; admin calls carry the admin key.
var tokenKey = builder.AddParameter("token-key", new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true);
var adminKey = builder.AddParameter("admin-key", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true);

// Service registry: each IM server replica registers its own address here.
var zookeeper = builder.AddZooKeeper("zookeeper", infrastructure);

// Messages, routes, presence, sessions; append-only persistence.
var redis = builder.AddCimRedis("redis", infrastructure);

// IM servers: N replicas, each binding a free port of its own (Port=0) and advertising it in ZooKeeper.
// No proxy in front: a client must reach the one replica the route API picked for it.
var imServer = builder.AddProject<Projects.CimAspire_ImServer>("im-server")
    .WithReplicas(builder.Configuration.GetValue("Cim:ImServerReplicas", 2))
    .WithReference(redis).WaitFor(redis)
    .WithReference(zookeeper).WaitFor(zookeeper)
    .WithEnvironment("Cim__TokenKey", tokenKey)
    .WithEnvironment("Cim__AdminKey", adminKey)
    .WithEnvironment("Cim__ImServer__Port", "0")
    .WithSettingsFrom(builder.Configuration, "Cim:ImServer")
    .WithSettingsFrom(builder.Configuration, "Cim:Delivery")
    .WithHttpEndpointUnlessDeclared()
    .WithHttpHealthCheck("/health");

// Route API: stateless, picks an IM server from the registry and issues the token for it.
var routeApi = builder.AddProject<Projects.CimAspire_Route>("route-api")
    .WithReplicas(builder.Configuration.GetValue("Cim:RouteReplicas", 2))
    .WithReference(redis).WaitFor(redis)
    .WithReference(zookeeper).WaitFor(zookeeper)
    .WaitFor(imServer)
    .WithEnvironment("Cim__TokenKey", tokenKey)
    .WithEnvironment("Cim__AdminKey", adminKey)
    .WithSettingsFrom(builder.Configuration, "Cim:Route")
    .WithSettingsFrom(builder.Configuration, "Cim:Delivery")
    .WithHttpEndpointUnlessDeclared()
    .WithHttpHealthCheck("/health");

// Web client: the Blazor chat, the one endpoint meant for browsers.
builder.AddProject<Projects.CimAspire_WebClient>("web-client")
    .WithHttpEndpointUnlessDeclared()
    .WithExternalHttpEndpoints()
    .WithReference(routeApi).WaitFor(routeApi)
    .WithHttpHealthCheck("/health");

builder.Build().Run();
