using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Abstractions;

[Trait("Category", "Unit")]
public sealed class BackendRulesTests
{
    [Fact]
    public void Check_ValidBackend_BreaksNoRule() =>
        Assert.Empty(BackendRules.Check("b-1.x_2", "https://backend:8443/app/", BackendRules.MaxWeight, 0));

    [Theory]
    [InlineData("b 9", "http://127.0.0.1:1/", 1, 0, BackendField.Id)]
    [InlineData("", "http://127.0.0.1:1/", 1, 0, BackendField.Id)]
    [InlineData("b9", "not a url", 1, 0, BackendField.Address)]
    [InlineData("b9", "file:///etc/passwd", 1, 0, BackendField.Address)]
    [InlineData("b9", null, 1, 0, BackendField.Address)]
    [InlineData("b9", "http://127.0.0.1:1/", 0, 0, BackendField.Weight)]
    [InlineData("b9", "http://127.0.0.1:1/", 1001, 0, BackendField.Weight)]
    [InlineData("b9", "http://127.0.0.1:1/", 1, -1, BackendField.MaxInFlight)]
    public void Check_OneValueBreaksARule_NamesThatValueOnly(string? id, string? address, int weight, int maxInFlight, BackendField field)
    {
        var violation = Assert.Single(BackendRules.Check(id, address, weight, maxInFlight));

        Assert.Equal(field, violation.Field);
    }

    [Fact]
    public void Check_SeveralValuesBreakRules_NamesEachAsTheAdminApiSaysIt()
    {
        var violations = BackendRules.Check(new string('x', 65), "ftp://host/", 0, -2);

        Assert.Equal(
            [
                $"'id' must be 1–64 letters, digits, '.', '_' or '-' (was '{new string('x', 65)}').",
                "'address' must be an absolute http or https URL (was 'ftp://host/').",
                "'weight' must be between 1 and 1000 (was 0).",
                "'maxInFlight' must be 0 (no limit) or more (was -2).",
            ],
            violations.Select(v => v.ToString()));
    }

    [Fact]
    public void CheckDrainTimeout_AllowsZeroToSevenDaysOnly()
    {
        Assert.Null(BackendRules.CheckDrainTimeout(TimeSpan.Zero));
        Assert.Null(BackendRules.CheckDrainTimeout(BackendRules.MaxDrainTimeout));
        Assert.Equal("'timeout' must be between 00:00:00 and 7.00:00:00 (was -00:00:01).", BackendRules.CheckDrainTimeout(TimeSpan.FromSeconds(-1)).ToString());
        Assert.Equal(BackendField.Timeout, BackendRules.CheckDrainTimeout(BackendRules.MaxDrainTimeout + TimeSpan.FromTicks(1))?.Field);
    }
}
