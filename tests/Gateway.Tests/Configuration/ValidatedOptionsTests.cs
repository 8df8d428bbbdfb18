using Distributed.Gateway.Management;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Tests.Configuration;

/// <summary>The options shape every section shares: bound, validated at start-up and, where needed, eagerly.</summary>
[Trait("Category", "Unit")]
public sealed class ValidatedOptionsTests
{
    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void Load_ValidSection_BindsIt()
    {
        var options = ValidatedOptions.Load(Settings(("Balancer:Admin:Url", "http://127.0.0.1:9091")), ManagementOptions.SectionName, new ManagementOptionsValidator());

        Assert.Equal(9091, options.Port);
    }

    [Fact]
    public void Load_EveryProblemOfTheValidator_IsListedNamingItsKey()
    {
        var settings = Settings(("Balancer:Admin:Url", "http://0.0.0.0:9091"));

        var refused = Assert.Throws<OptionsValidationException>(() => ValidatedOptions.Load(settings, ManagementOptions.SectionName, new ManagementOptionsValidator()));

        Assert.Contains(refused.Failures, f => f.StartsWith("Balancer:Admin:ApiKey must be set", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_AValueTheBinderCannotConvert_IsAProblemNamingTheKeyAndValue()
    {
        var settings = Settings(("Telemetry:Tracing", "yes"));

        var refused = Assert.Throws<OptionsValidationException>(() => ValidatedOptions.Load<TelemetryOptions>(settings, TelemetryOptions.SectionName, validator: null));

        var failure = Assert.Single(refused.Failures);
        Assert.Contains("'Telemetry:Tracing'", failure, StringComparison.Ordinal);
        Assert.Contains("yes", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Problems_ABindingFailureAtStartUp_IsReportedLikeAValidationFailure()
    {
        // What IOptions<T>.Value throws for a bound section with a word where a duration belongs: the host used to crash
        // on it with a stack trace; it is a configuration problem like any other.
        using var services = new ServiceCollection()
            .AddValidatedOptions<ProbeOptions, ProbeOptionsValidator>(Settings(("Probe:Period", "soon")), "Probe").Services
            .BuildServiceProvider();

        var thrown = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IOptions<ProbeOptions>>().Value);

        var problem = Assert.Single(ConfigurationErrors.Problems(thrown));
        Assert.Contains("'Probe:Period'", problem, StringComparison.Ordinal);
        Assert.Contains("soon", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Problems_SeveralSectionsRefusedAtOnce_AreAllListed()
    {
        // ValidateOnStart throws an AggregateException when more than one section is invalid.
        var both = new AggregateException(
            new OptionsValidationException("A", typeof(object), ["A:X is wrong."]),
            new OptionsValidationException("B", typeof(object), ["B:Y is wrong.", "B:Z is wrong."]));

        Assert.Equal(["A:X is wrong.", "B:Y is wrong.", "B:Z is wrong."], ConfigurationErrors.Problems(both));
    }

    [Fact]
    public void Problems_AnythingElse_IsNotAConfigurationProblem()
    {
        Assert.Empty(ConfigurationErrors.Problems(new InvalidOperationException("Failed to convert configuration value, said someone else.")));
        Assert.Empty(ConfigurationErrors.Problems(new AggregateException(new OptionsValidationException("A", typeof(object), ["A:X"]), new IOException())));
    }

    [Fact]
    public void AddValidatedOptions_InvalidSection_FailsValidationOnStart()
    {
        using var services = new ServiceCollection()
            .AddValidatedOptions<ProbeOptions, ProbeOptionsValidator>(Settings(("Probe:Period", "-00:00:01")), "Probe").Services
            .BuildServiceProvider();

        var refused = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ProbeOptions>>().Value);

        Assert.Equal(["Probe:Period must not be negative."], refused.Failures);
    }

    private sealed class ProbeOptions
    {
        public TimeSpan Period { get; set; }
    }

    private sealed class ProbeOptionsValidator : IValidateOptions<ProbeOptions>
    {
        public ValidateOptionsResult Validate(string? name, ProbeOptions options) =>
            options.Period < TimeSpan.Zero ? ValidateOptionsResult.Fail("Probe:Period must not be negative.") : ValidateOptionsResult.Success;
    }
}
