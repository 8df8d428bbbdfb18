using Distributed.Gateway.Management;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distributed.Gateway.Tests.Management;

[Trait("Category", "Unit")]
public sealed class AdminClusterFailureFilterTests
{
    private readonly AdminClusterFailureFilter _filter = new(NullLogger<AdminClusterFailureFilter>.Instance);

    public static TheoryData<Exception> ClusterFailures() =>
    [
        new SiloUnavailableException("no silo"), // Orleans' own: every silo gone
        new TimeoutException("Response did not arrive on time"), // Orleans' response timeout
        new StackExchange.Redis.RedisConnectionException(StackExchange.Redis.ConnectionFailureType.UnableToConnect, "store down"), // a silo's store write
    ];

    [Theory]
    [MemberData(nameof(ClusterFailures))]
    public async Task AGrainCallTheClusterCouldNotServe_Is503WithRetryAfterAndNamesTheFailure(Exception failure)
    {
        var context = Context();

        var result = await _filter.InvokeAsync(EndpointFilterInvocationContext.Create(context), _ => throw failure);

        await Assert.IsAssignableFrom<IResult>(result).ExecuteAsync(context);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        Assert.Equal("1", context.Response.Headers.RetryAfter.ToString());
        context.Response.Body.Position = 0;
        var body = await new StreamReader(context.Response.Body).ReadToEndAsync();
        Assert.Contains("Cluster unavailable", body, StringComparison.Ordinal);
        Assert.Contains(failure.GetType().Name, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABugInTheGateway_IsNotDisguisedAsAnOutage()
    {
        var context = Context();

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await _filter.InvokeAsync(EndpointFilterInvocationContext.Create(context), _ => throw new InvalidOperationException("a bug")));
        Assert.False(context.Response.Headers.ContainsKey("Retry-After"));
    }

    [Fact]
    public async Task AClientThatWentAway_GetsNoAnswerWritten()
    {
        using var aborted = new CancellationTokenSource();
        var context = Context();
        context.RequestAborted = aborted.Token;
        await aborted.CancelAsync();

        await Assert.ThrowsAsync<TimeoutException>(async () =>
            await _filter.InvokeAsync(EndpointFilterInvocationContext.Create(context), _ => throw new TimeoutException()));
    }

    [Fact]
    public async Task ACallThatSucceeds_PassesItsResultThrough()
    {
        var ok = Results.NoContent();

        Assert.Same(ok, await _filter.InvokeAsync(EndpointFilterInvocationContext.Create(Context()), _ => ValueTask.FromResult<object?>(ok)));
    }

    private static DefaultHttpContext Context() => new()
    {
        RequestServices = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider(),
        Response = { Body = new MemoryStream() },
    };
}
